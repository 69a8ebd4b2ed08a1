// Internal: a second thread for our WebAssembly SIMD kernels on the threaded wasm backend.
//
// Why: our kernels run on the calling thread, while XNNPACK's kernels use its whole pool. A
// kernel that splits its output in two parts (the filter gradient: rows of dW) can give one part
// to this helper and do the other itself; each output is computed the same way whichever thread
// does it, so results do not depend on the split nor on the thread count. A message round trip
// per call would cost more than small kernels take, so the helper, a worker started once (lazily,
// on first use), instantiates the same modules on tfjs' shared memory and waits in `Atomics.wait`
// on a small control block (on tfjs' heap, kept while the helper lives); a call writes an
// export's index and int arguments there, wakes it, runs its own part, then waits for it.
//
// It runs under `node:worker_threads`, whose `unref` lets the process end while the helper
// sleeps (a Deno worker would keep it alive), started from this folder's file like
// _pthreads.ts's workers, so it needs only the read permission the tasks grant. Wherever it
// cannot run (the single-threaded build, `--threads 1`, a remote module, a worker that failed or
// died, a call it did not take up in time) the calling thread does both parts: same results.
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { NodeWorker } from "../_pthreads.ts";
import { backendMemory, compiledModule, simdModule, type SimdModuleSource } from "./_module.ts";
import {
  COMMAND,
  CONTROL,
  type HelperLoad,
  type HelperStart,
  MAX_ARGS,
  MAX_MODULES,
  STATE,
} from "./_helper_worker.ts";

const WORKER_URL = new URL("./_helper_worker.ts", import.meta.url);

/** Busy-wait iterations before the calling thread sleeps on the futex for the helper's part. */
const SPINS = 20_000;
/**
 * How long the calling thread waits for the helper to take a call up before taking it back and
 * giving the helper up (it died, or never got to run): far above a futex wake-up, even on a
 * loaded machine.
 */
const PICKUP_TIMEOUT_MS = 1_000;

type Exported = (...args: number[]) => unknown;

/** Modules the helper knows, in the order it loaded them (the same for every helper). */
const moduleIndex = new Map<SimdModuleSource, number>();
/** Export name → index among a module's function exports, as the helper lists them. */
const functionIndex = new WeakMap<SimdModuleSource, Map<string, number>>();

function indexOf(source: SimdModuleSource, name: string): number {
  let byName = functionIndex.get(source);
  if (byName === undefined) {
    const names = WebAssembly.Module.exports(compiledModule(source, true))
      .filter((entry) => entry.kind === "function")
      .map((entry) => entry.name);
    byName = new Map(names.map((n, i) => [n, i]));
    functionIndex.set(source, byName);
  }
  const index = byName.get(name);
  if (index === undefined) throw new Error(`no export ${name} in this SIMD module`);
  return index;
}

class Helper {
  readonly memory: WebAssembly.Memory;
  readonly #control: Int32Array;
  readonly #worker: InstanceType<typeof NodeWorker>;
  /** Modules posted to the worker (it may not have loaded them yet). */
  readonly #posted = new Set<number>();
  /** A module was posted since the worker last went back to its event loop to take messages. */
  #yieldDue = false;
  /** The worker ended or failed a command: the calling thread does everything from now on. */
  dead = false;

  constructor(backend: unknown, memory: WebAssembly.Memory) {
    this.memory = memory;
    // On tfjs' heap, kept for the helper's life (the backend's: a new one brings a new memory);
    // malloc'd rather than a tensor, so that it counts among nobody's buffers.
    const wasm = (backend as { wasm: { _malloc(bytes: number): number } }).wasm;
    const offset = wasm._malloc(CONTROL.length * 4);
    if (offset <= 0 || offset % 4 !== 0) throw new Error("no heap for the helper's control block");
    this.#control = new Int32Array(memory.buffer, offset, CONTROL.length);
    this.#control.fill(0);
    this.#worker = new NodeWorker(WORKER_URL);
    this.#worker.unref();
    this.#worker.on("error", () => this.dead = true);
    this.#worker.on("exit", () => this.dead = true);
    this.#worker.postMessage({ memory, control: offset } satisfies HelperStart);
  }

  /**
   * Posts `exported(...args)` of `source` to the helper; false where it cannot take it now (the
   * module not loaded there yet, a previous command not taken up).
   */
  post(source: SimdModuleSource, name: string, args: readonly number[]): boolean {
    const ctrl = this.#control;
    if (this.dead || Atomics.load(ctrl, CONTROL.ready) !== 1) return false;
    const state = Atomics.load(ctrl, CONTROL.state);
    if (state === STATE.posted || state === STATE.running) return false;
    let index = moduleIndex.get(source);
    if (index === undefined) {
      if (moduleIndex.size >= MAX_MODULES) return false;
      moduleIndex.set(source, index = moduleIndex.size);
    }
    if (!this.#posted.has(index)) {
      this.#posted.add(index);
      const module = compiledModule(source, true);
      this.#worker.postMessage({ index, module } satisfies HelperLoad);
      this.#yieldDue = true;
    }
    if (this.#yieldDue) {
      // The worker takes messages only when it leaves its loop: send it there once.
      this.#yieldDue = false;
      this.#send(COMMAND.yield, 0, 0, []);
      return false;
    }
    if (Atomics.load(ctrl, CONTROL.loaded + index) !== 1) return false;
    this.#send(COMMAND.call, index, indexOf(source, name), args);
    return true;
  }

  /** Whether module `source` is loaded on the helper, so that calls to it go there. */
  serves(source: SimdModuleSource): boolean {
    const index = moduleIndex.get(source);
    return !this.dead && index !== undefined &&
      Atomics.load(this.#control, CONTROL.loaded + index) === 1;
  }

  /** Waits for the posted call; false where the calling thread must run it itself. */
  finish(): boolean {
    const ctrl = this.#control;
    let spins = 0;
    let since = 0;
    for (;;) {
      const state = Atomics.load(ctrl, CONTROL.state);
      if (state === STATE.done) {
        helperCalls++;
        return true;
      }
      if (state === STATE.failed || state === STATE.cancelled) {
        this.dead = true;
        return false;
      }
      if (++spins < SPINS) continue;
      if (state === STATE.posted) {
        since ||= performance.now();
        if (
          performance.now() - since > PICKUP_TIMEOUT_MS &&
          Atomics.compareExchange(ctrl, CONTROL.state, STATE.posted, STATE.cancelled) ===
            STATE.posted
        ) {
          this.dead = true;
          return false;
        }
      }
      Atomics.wait(ctrl, CONTROL.state, state, 10);
    }
  }

  /** Ends the worker (its memory belongs to a backend that is gone). */
  close(): void {
    this.dead = true;
    this.#send(COMMAND.exit, 0, 0, []);
    this.#worker.terminate();
  }

  #send(command: number, module: number, fn: number, args: readonly number[]): void {
    const ctrl = this.#control;
    ctrl[CONTROL.command] = command;
    ctrl[CONTROL.module] = module;
    ctrl[CONTROL.function] = fn;
    ctrl[CONTROL.argc] = args.length;
    for (let i = 0; i < args.length; i++) ctrl[CONTROL.args + i] = args[i];
    Atomics.store(ctrl, CONTROL.state, STATE.posted);
    Atomics.add(ctrl, CONTROL.seq, 1);
    Atomics.notify(ctrl, CONTROL.seq);
  }
}

let helper: Helper | undefined;
/** Calls the helper thread has run. */
let helperCalls = 0;
/** Why no helper can start in this process, once a start failed. */
let unavailable: string | undefined = WORKER_URL.protocol === "file:"
  ? undefined
  : `the helper worker must be a local file for worker_threads, not ${WORKER_URL.protocol}`;

/**
 * Whether calls on `backend` get a second thread: the threaded build (a shared memory) on at
 * least 2 threads (`--threads 1` means one). The helper may still be starting, or have failed:
 * {@linkcode runSplit} then runs both parts here, with the same results.
 */
export function twoThreads(backend: unknown): boolean {
  const memory = backendMemory(backend);
  return memory !== undefined && memory.buffer instanceof SharedArrayBuffer &&
    getThreadsCount() >= 2 && unavailable === undefined;
}

function helperFor(backend: unknown): Helper | undefined {
  const memory = backendMemory(backend);
  if (helper !== undefined && helper.memory !== memory) {
    // A new backend (`setWasmThreads`): the old helper holds the old one's memory.
    helper.close();
    helper = undefined;
  }
  if (memory === undefined || !twoThreads(backend)) return undefined;
  if (helper === undefined) {
    try {
      helper = new Helper(backend, memory);
    } catch (error) {
      unavailable = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }
  return helper.dead ? undefined : helper;
}

/**
 * Runs `own()` (the calling thread's part of a kernel) and export `name` of `source`'s module
 * with `args` (the other part) on the helper thread at the same time, then waits for both. Where
 * there is no helper (see {@linkcode twoThreads}) or it cannot take the call, the calling thread
 * runs the export itself after `own()`. So the export must be safe to run again from the start
 * (it writes only its own outputs), and its part must not overlap `own()`'s.
 */
export function runSplit(
  backend: unknown,
  source: SimdModuleSource,
  name: string,
  args: readonly number[],
  own: () => void,
): void {
  if (args.length > MAX_ARGS) throw new RangeError(`at most ${MAX_ARGS} arguments`);
  const thread = helperFor(backend);
  const posted = thread?.post(source, name, args) ?? false;
  own();
  if (posted && thread!.finish()) return;
  const exports = simdModule<Record<string, Exported>>(backend, source);
  if (exports === null) throw new Error("the SIMD module did not instantiate");
  exports[name](...args);
}

/**
 * Whether calls to `source`'s module on `backend` run on the helper thread now: it started and
 * loaded the module (it does so on the first calls, in the background).
 */
export function helperThreadServes(backend: unknown, source: SimdModuleSource): boolean {
  return twoThreads(backend) && helper !== undefined &&
    helper.memory === backendMemory(backend) && helper.serves(source);
}

/** How many calls the helper thread has run in this process (for tests). */
export function helperThreadCalls(): number {
  return helperCalls;
}

/** Ends the helper thread, if one runs (a test's clean-up; the process needs none). */
export function closeHelperThread(): void {
  helper?.close();
  helper = undefined;
}
