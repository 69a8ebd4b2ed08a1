/**
 * Internal: lets tfjs-backend-wasm's threaded build (XNNPACK on a pthread pool) start in Deno.
 *
 * Deno reports itself as Node (`process.versions.node`), so emscripten's glue takes its Node
 * path: it reads `Worker` from `require("worker_threads")` and starts each pthread from the
 * blob URL of a classic worker script, which Deno's `worker_threads` refuses. We put a `Worker`
 * class of our own on that module before the glue runs. It speaks the small part of the Node
 * worker API the glue uses (`on`, `ref`, `unref`, `postMessage`, `terminate`) and hosts each
 * pthread in a Deno module worker ({@linkcode ./_pthread_worker.ts}) that receives the pthread
 * script and the glue as text. The shared `WebAssembly.Memory` and the compiled module are
 * posted as they are; Deno clones both.
 *
 * The glue preloads a pool of eight workers and waits for each to report `loaded`, but XNNPACK
 * runs `threads - 1` of them. So a pool worker answers `loaded` at once and starts its Deno
 * worker only when the glue gives it a thread to run, posting the scripts, the `load` message
 * and the `run` message in one synchronous burst: the main thread then blocks in `Atomics.wait`
 * until the thread checks in, and the new worker gets there on its own, without the main
 * thread's event loop.
 *
 * @module
 */
import os from "node:os";
import workerThreads from "node:worker_threads";

type Listener = (value: unknown) => void;

/** The Deno Worker the hook must not shadow (the glue assigns the global `Worker` too). */
const DenoWorker = globalThis.Worker;
/**
 * Node's Worker, whose `unref` lets the process end while a pthread sleeps in a futex wait (read
 * before {@linkcode installPthreadWorkers} replaces it; our SIMD kernels' helper thread uses it).
 */
export const NodeWorker = workerThreads.Worker;
const ENTRY_URL = new URL("./_pthread_worker.ts", import.meta.url);

/** The pthread script and the glue, read once, before any pool worker reports `loaded`. */
const scripts: { entry?: string; glue?: string } = {};

/** Pool workers whose Deno worker is running. */
const started = new Set<PthreadWorker>();

class PthreadWorker {
  readonly #listeners = new Map<string, Listener[]>();
  readonly #url: string = "";
  #worker: InstanceType<typeof NodeWorker> | undefined;
  #load: Record<string, unknown> | undefined;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;

  constructor(url: string | URL, options?: WorkerOptions) {
    if (options?.type === "module" || !String(url).startsWith("blob:")) {
      // Not a pthread: someone's `new Worker(...)` through the global the glue replaced.
      return new DenoWorker(url, options) as unknown as PthreadWorker;
    }
    this.#url = String(url);
  }

  on(event: string, fn: Listener): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(fn);
    this.#listeners.set(event, list);
    return this;
  }

  /** Node's keep-alive toggles, called when a thread starts and ends: nothing to do here. */
  ref(): void {}

  unref(): void {}

  postMessage(message: unknown, transfer?: Transferable[]): void {
    const data = message as { cmd?: string; urlOrBlob?: unknown };
    if (this.#worker !== undefined) {
      this.#worker.postMessage(message, transfer as never);
    } else if (data?.cmd === "load") {
      this.#load = { ...data, urlOrBlob: "denovision:glue" };
      this.#readScripts(data.urlOrBlob).then(
        () => this.#emit("message", { cmd: "loaded" }),
        (error) => this.#emit("error", error),
      );
    } else if (data?.cmd === "run") {
      this.#start();
      this.#worker!.postMessage(message, transfer as never);
    }
    // Anything else before a thread runs here (a cancel) has nothing to act on.
  }

  terminate(): Promise<number> {
    started.delete(this);
    this.#worker?.terminate();
    this.#worker = undefined;
    return Promise.resolve(0);
  }

  async #readScripts(glue: unknown): Promise<void> {
    scripts.entry ??= await (await fetch(this.#url)).text();
    if (scripts.glue === undefined) {
      scripts.glue = glue instanceof Blob
        ? await glue.text()
        : await (await fetch(String(glue))).text();
    }
  }

  #start(): void {
    if (scripts.entry === undefined || scripts.glue === undefined || !this.#load) {
      throw new Error("pthread started before its worker loaded");
    }
    const worker = new NodeWorker(ENTRY_URL);
    worker.on("message", (data) => this.#emit("message", data));
    worker.on("error", (error) => this.#emit("error", error));
    worker.unref();
    worker.postMessage({ denovisionPthreadScript: scripts.entry, kind: "entry" });
    worker.postMessage({ denovisionPthreadScript: scripts.glue, kind: "glue" });
    worker.postMessage(this.#load);
    this.#worker = worker;
    started.add(this);
  }

  #emit(event: "message" | "error", value: unknown): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(value);
    if (event === "message") this.onmessage?.({ data: value });
    else this.onerror?.(value);
  }
}

let installed = false;

/** Why pthread workers cannot start here, or undefined when they can. */
export function pthreadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer !== "function") return "this runtime has no SharedArrayBuffer";
  if (ENTRY_URL.protocol !== "file:") {
    return `the pthread worker must be a local file for worker_threads, not ${ENTRY_URL.protocol}`;
  }
  return undefined;
}

/**
 * Puts the pthread `Worker` on `node:worker_threads` (once), so the next wasm backend start may
 * use the threaded build.
 */
export function installPthreadWorkers(): void {
  if (installed) return;
  (workerThreads as unknown as { Worker: unknown }).Worker = PthreadWorker;
  installed = true;
}

/** Restores the global `Worker` that emscripten's glue replaces with `worker_threads.Worker`. */
export function restoreGlobalWorker(): void {
  globalThis.Worker = DenoWorker;
}

/** Ends every running pthread worker (after the wasm backend that used them is disposed). */
export function terminatePthreadWorkers(): void {
  for (const worker of [...started]) worker.terminate();
}

/** How many pthread workers are running. */
export function pthreadWorkerCount(): number {
  return started.size;
}

/**
 * Runs `start` (the wasm backend's initialisation) while `os.cpus()` reports `2 * threads`
 * logical cores. tfjs-backend-wasm caps its XNNPACK pool at half of emscripten's
 * `emscripten_num_logical_cores()` (it assumes two hyperthreads a core), which the glue takes
 * from `os.cpus()` on its Node path and reads once, when the module starts; on a 2-core machine
 * that cap is one thread whatever `setThreadsCount` asked for.
 */
export async function withLogicalCores<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const cpus = os.cpus;
  const wanted = Math.max(1, Math.round(threads)) * 2;
  // Only the length is read; entries of our own need no `--allow-sys`, unlike the real call.
  const core: os.CpuInfo = {
    model: "wasm",
    speed: 0,
    times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 },
  };
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: wanted }, () => core);
  try {
    return await start();
  } finally {
    (os as { cpus: () => os.CpuInfo[] }).cpus = cpus;
  }
}
