// Internal: a pool of helper threads for our WebAssembly SIMD kernels on the threaded wasm backend.
//
// Why: one pool for every thread of the backend. Our kernels cut their output into as many parts
// as {@linkcode threadsFor} says (the filter gradient: ranges of taps, the input gradient and the
// forward convolution: ranges of rows); {@linkcode runParts} runs part 0 on the calling thread and
// gives part i to helper i, one worker per extra thread (started as calls need them). XNNPACK's
// own pool is kept at one thread (wasm.ts): two pools spinning and sleeping on the same cores
// made small kernels several times slower (LeNet's max-pool 0.27 → 2.1 ms a step on 2 threads).
// Each output is computed the same way whichever thread does it and however many parts there
// are, so results do not depend on the cut nor on the thread count. A message round trip per
// call would cost more than small kernels take, so each helper, a worker started once (lazily,
// on first use), instantiates the same modules on tfjs' shared memory and waits in
// `Atomics.wait` (after a short spin) on its own small control block (on tfjs' heap, kept while
// the helper lives); a call writes an export's index and int arguments into the block of each
// helper taking a part and wakes it, runs its own part, then waits for each. Short kernels on two
// threads may instead share their blocks from both ends (runRanges' `share`): each thread keeps
// to its own end of the data, and the one that runs slower takes fewer blocks.
//
// They run under `node:worker_threads`, whose `unref` lets the process end while helpers sleep
// (a Deno worker would keep it alive), started from this folder's file like _pthreads.ts's
// workers, so they need only the read permission the tasks grant. Wherever a helper cannot run a
// part (the single-threaded build, `--threads 1`, a remote module, a worker that failed or died,
// a part it did not take up in time) the calling thread runs that part itself afterwards: same
// results. A helper that failed is not replaced; the pool ends with its backend's memory.
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import {
  backendMemory,
  compiledModule,
  isShared,
  simdModule,
  type SimdModuleSource,
} from "./_module.ts";
import {
  claimBlock,
  COMMAND,
  CONTROL,
  type HelperLoad,
  type HelperStart,
  MAX_ARGS,
  MAX_MODULES,
  STATE,
} from "./_helper_protocol.ts";

const WORKER_URL = new URL("./_helper_worker.ts", import.meta.url);

/** The part of Node's `Worker` the helpers use. */
export interface HelperWorker {
  unref(): void;
  on(event: "error" | "exit", listener: () => void): unknown;
  postMessage(message: unknown): void;
  terminate(): unknown;
}

/** Starts a helper's worker from its script's URL. */
export type HelperWorkerClass = new (url: URL) => HelperWorker;

/**
 * The worker class helpers run in: Node's `Worker` (whose `unref` lets the process end while a
 * helper sleeps), installed by wasm.ts in Deno. None elsewhere (a web page): no helpers start, and
 * the calling thread runs every part.
 */
let HelperWorkerClass: HelperWorkerClass | undefined;

/**
 * Threads our kernels cut their work for (the calling one included), set by wasm.ts when it
 * starts the threaded build; undefined: tfjs-backend-wasm's own count (`getThreadsCount()`).
 */
let configuredThreads: number | undefined;

/** Sets the threads our kernels use on the threaded build (wasm.ts, at each start). */
export function setKernelThreads(threads: number | undefined): void {
  configuredThreads = threads;
}

/**
 * Installs the worker class helper threads run in (wasm.ts does, in Deno; tests put in their own)
 * and returns the one it replaces. Helpers already started keep theirs.
 */
export function setHelperWorkerClass(
  workerClass: HelperWorkerClass | undefined,
): HelperWorkerClass | undefined {
  const previous = HelperWorkerClass;
  HelperWorkerClass = workerClass;
  return previous;
}

/**
 * How long the calling thread polls, over all its helpers' parts together, before it sleeps on
 * the futex for each part still running: a sleeping thread took 60–90 µs to wake on our 2-core VM
 * (see the helper's own SPIN_MS).
 */
const SPIN_MS = 2;
/** At most this many parts (the calling thread and its helpers): XNNPACK's own cap is 8. */
const MAX_THREADS = 16;
/**
 * How long the calling thread waits for the helper to take a call up before taking it back (the
 * helper died, or did not get a core): far above a futex wake-up, even on a loaded machine. The
 * helper then gets no calls until it has caught up with the commands posted to it.
 */
const PICKUP_TIMEOUT_MS = 1_000;
/**
 * After this many calls taken back, a helper is given up for good: on a machine so busy that its
 * thread keeps missing the core, each one cost the calling thread {@linkcode PICKUP_TIMEOUT_MS}.
 */
const MAX_STALLS = 3;

type Exported = (...args: number[]) => unknown;

/** Modules the helpers know, by index (the same for every helper; each loads them as posted). */
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
  readonly #worker: HelperWorker;
  /** Modules posted to the worker (it may not have loaded them yet). */
  readonly #posted = new Set<number>();
  /** A module was posted since the worker last went back to its event loop to take messages. */
  #yieldDue = false;
  /** The worker ended or failed a command: the calling thread does everything from now on. */
  dead = false;
  /** Calls taken back from this helper after {@linkcode PICKUP_TIMEOUT_MS}. */
  #stalls = 0;

  constructor(backend: unknown, memory: WebAssembly.Memory) {
    if (HelperWorkerClass === undefined) throw new Error("no worker class for helper threads");
    this.memory = memory;
    // On tfjs' heap, kept for the helper's life (the backend's: a new one brings a new memory);
    // malloc'd rather than a tensor, so that it counts among nobody's buffers.
    const wasm = (backend as { wasm: { _malloc(bytes: number): number } }).wasm;
    const offset = wasm._malloc(CONTROL.length * 4);
    if (offset <= 0 || offset % 4 !== 0) throw new Error("no heap for the helper's control block");
    this.#control = new Int32Array(memory.buffer, offset, CONTROL.length);
    this.#control.fill(0);
    this.#worker = new HelperWorkerClass(WORKER_URL);
    this.#worker.unref();
    this.#worker.on("error", () => this.dead = true);
    this.#worker.on("exit", () => this.dead = true);
    this.#worker.postMessage({ memory, control: offset } satisfies HelperStart);
  }

  /**
   * Posts `exported(...args)` of `source` to the helper; false where it cannot take it now (the
   * module not loaded there yet, a previous command not taken up).
   */
  post(
    source: SimdModuleSource,
    name: string,
    args: readonly number[],
    command: number = COMMAND.call,
  ): boolean {
    const ctrl = this.#control;
    if (this.dead || Atomics.load(ctrl, CONTROL.ready) !== 1 || this.#behind()) return false;
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
    this.#send(command, index, indexOf(source, name), args);
    return true;
  }

  /** Whether module `source` is loaded on the helper, so that calls to it go there. */
  serves(source: SimdModuleSource): boolean {
    const index = moduleIndex.get(source);
    return !this.dead && index !== undefined && !this.#behind() &&
      Atomics.load(this.#control, CONTROL.loaded + index) === 1;
  }

  /** Whether a call was taken back from the helper and it has not yet caught up with `seq`. */
  #behind(): boolean {
    return this.#stalls > 0 &&
      Atomics.load(this.#control, CONTROL.seen) !== Atomics.load(this.#control, CONTROL.seq);
  }

  /**
   * Waits for the posted call; false where the calling thread must run it itself. It polls until
   * `spin.until` (a `performance.now()` time shared by this call's waits on all helpers), then
   * sleeps.
   */
  finish(spin: { until: number; polls: number }): boolean {
    const ctrl = this.#control;
    let since = 0;
    for (;;) {
      const state = Atomics.load(ctrl, CONTROL.state);
      if (state === STATE.done) {
        helperCalls++;
        return true;
      }
      if (state === STATE.failed) {
        this.dead = true;
        return false;
      }
      // The clock is read once every 256 polls.
      if ((++spin.polls & 255) !== 0 || performance.now() < spin.until) continue;
      if (state === STATE.posted) {
        since ||= performance.now();
        if (
          performance.now() - since > PICKUP_TIMEOUT_MS &&
          Atomics.compareExchange(ctrl, CONTROL.state, STATE.posted, STATE.cancelled) ===
            STATE.posted
        ) {
          // Taken back: the helper is skipped until it catches up, or given up for good.
          if (++this.#stalls >= MAX_STALLS) this.dead = true;
          return false;
        }
      }
      Atomics.wait(ctrl, CONTROL.state, state, 10);
    }
  }

  /** How long the last call it finished took on the helper, in milliseconds. */
  elapsedMs(): number {
    return Atomics.load(this.#control, CONTROL.elapsed) / 1e4;
  }

  /** Ends the worker (its memory belongs to a backend that is gone, or a test cleans up). */
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

/**
 * The pool, all on one backend's memory: helper i runs part i + 1 (the live ones take parts 1..
 * in order where some died).
 */
let helpers: (Helper | undefined)[] = [];
/** Parts helpers have run in this process. */
let helperCalls = 0;
/** Why no helper can start in this process, once a start failed. */
let unavailable: string | undefined = WORKER_URL.protocol === "file:"
  ? undefined
  : `the helper worker must be a local file for worker_threads, not ${WORKER_URL.protocol}`;

/** Threads calls on `backend` may use, helpers dead or not: 1 without a shared memory. */
function poolThreads(backend: unknown): number {
  const memory = backendMemory(backend);
  if (memory === undefined || !(isShared(memory.buffer))) return 1;
  if (unavailable !== undefined) return 1;
  const count = configuredThreads ?? getThreadsCount();
  return count >= 2 ? Math.min(count, MAX_THREADS) : 1;
}

/** Closes the pool if it belongs to another memory than `backend`'s (a new backend). */
function forgetOtherMemory(backend: unknown): void {
  const memory = backendMemory(backend);
  if (helpers.some((helper) => helper !== undefined && helper.memory !== memory)) {
    closeHelperThreads();
  }
}

/**
 * How many parts calls on `backend` should cut their work into: the backend's thread count
 * (set by wasm.ts on the threaded build; `--threads 1` means one), capped, less the helpers
 * that failed or died; 1 on the single-threaded build or where no helper can start. Helpers may
 * still be starting: {@linkcode runParts} then runs their parts here, with the same results.
 */
export function threadsFor(backend: unknown): number {
  forgetOtherMemory(backend);
  const threads = poolThreads(backend);
  let dead = 0;
  for (let i = 0; i < threads - 1; i++) if (helpers[i]?.dead) dead++;
  return threads - dead;
}

/** The live helpers for parts 1.. on `backend` (started here on first use), by part − 1. */
function poolFor(backend: unknown): (Helper | undefined)[] {
  forgetOtherMemory(backend);
  const memory = backendMemory(backend);
  const threads = poolThreads(backend);
  if (memory === undefined || threads < 2) return [];
  const live: Helper[] = [];
  for (let i = 0; i < threads - 1 && unavailable === undefined; i++) {
    let helper = helpers[i];
    if (helper === undefined) {
      try {
        helpers[i] = helper = new Helper(backend, memory);
      } catch (error) {
        // No helper for this process then: end those started, the calling thread does it all.
        unavailable = error instanceof Error ? error.message : String(error);
        closeHelperThreads();
        return [];
      }
    }
    if (!helper.dead) live.push(helper);
  }
  return live;
}

/** How long each part of a {@linkcode runParts} call ran on its thread, in ms (NaN: not there). */
export interface PartTimes {
  ms: number[];
}

/**
 * Runs export `name` of `source`'s module once per argument list of `parts`, each on its own
 * thread where it can, and returns when all have run: it posts parts 1.. to live helpers (the
 * i-th live helper takes the i-th part after the first), runs part 0 on the calling thread, then
 * waits for each helper. A part no helper took (none live, one still starting, one that failed or
 * did not take it up in time) runs on the calling thread afterwards. So each part must be safe to
 * run again from the start (it writes only its own outputs), and no two parts may overlap.
 */
export function runParts(
  backend: unknown,
  source: SimdModuleSource,
  name: string,
  parts: readonly (readonly number[])[],
): PartTimes {
  for (const args of parts) {
    if (args.length > MAX_ARGS) throw new RangeError(`at most ${MAX_ARGS} arguments`);
  }
  const exports = simdModule<Record<string, Exported>>(backend, source);
  if (exports === null) throw new Error("the SIMD module did not instantiate");
  const run = exports[name];
  if (typeof run !== "function") throw new Error(`no export ${name} in this SIMD module`);
  const times: PartTimes = { ms: new Array(parts.length).fill(NaN) };
  if (parts.length === 0) return times;
  const pool = parts.length > 1 ? poolFor(backend) : [];
  const posted: (Helper | undefined)[] = [];
  for (let i = 1; i < parts.length; i++) {
    const helper = pool[i - 1];
    posted.push(helper?.post(source, name, parts[i]) ? helper : undefined);
  }
  const start = performance.now();
  run(...parts[0]);
  times.ms[0] = performance.now() - start;
  const spin = { until: performance.now() + SPIN_MS, polls: 0 };
  for (let i = 1; i < parts.length; i++) {
    const helper = posted[i - 1];
    if (helper?.finish(spin)) {
      times.ms[i] = helper.elapsedMs();
      continue;
    }
    run(...parts[i]); // its time stays NaN: it did not run on its own thread
  }
  return times;
}

/** Most blocks a shared call is cut into (runRanges' `share`). */
const MAX_SHARED_BLOCKS = 32;
/**
 * The most work a call shares its blocks for; above, one range each. A long kernel's ranges,
 * sized by the threads' learned speeds, finish nearly together, and ResNet-18's 3×3 layers (537M
 * multiply-adds at 32 px, batch 32) ran 3% slower shared.
 */
const MAX_SHARED_WORK = 2 ** 27;

/** The claim counter and block bounds of shared calls on one backend's heap. */
interface ShareArea {
  memory: WebAssembly.Memory;
  offset: number;
  counter: Int32Array;
  bounds: Int32Array;
}
let shareArea: ShareArea | undefined;

/** The share area on `backend`'s heap (allocated once per memory), or undefined. */
function shareAreaFor(backend: unknown): ShareArea | undefined {
  const memory = backendMemory(backend);
  if (memory === undefined) return undefined;
  if (shareArea?.memory === memory) return shareArea;
  const wasm = (backend as { wasm?: { _malloc(bytes: number): number } }).wasm;
  const offset = wasm?._malloc((MAX_SHARED_BLOCKS + 2) * 4) ?? 0;
  if (offset <= 0 || offset % 4 !== 0) return undefined;
  const counter = new Int32Array(memory.buffer, offset, 1);
  const bounds = new Int32Array(memory.buffer, offset + 4, MAX_SHARED_BLOCKS + 1);
  return shareArea = { memory, offset, counter, bounds };
}

/**
 * Runs export `name` on every block of `bounds` (block b: [bounds[b], bounds[b + 1])) on the
 * calling thread and one helper: the calling thread takes blocks from the front, the helper from
 * the back, until they meet. Each thread keeps to its own end of the data, as with one range
 * each (the data the previous kernel left in its cache), while a thread that runs slower for a
 * while (a busier core) takes fewer blocks instead of making the other wait. Thread p calls with
 * `argsFor(p)` then the block's range. Where the helper cannot take the call, or failed partway,
 * the calling thread runs the blocks left, or all of them again (each writes only its own
 * outputs). False where no helper or heap could be had (nothing ran).
 */
function runShared(
  backend: unknown,
  source: SimdModuleSource,
  name: string,
  argsFor: (part: number) => readonly number[],
  bounds: readonly number[],
): boolean {
  const blocks = bounds.length - 1;
  const area = blocks <= MAX_SHARED_BLOCKS ? shareAreaFor(backend) : undefined;
  const helper = area === undefined ? undefined : poolFor(backend)[0];
  if (area === undefined || helper === undefined) return false;
  const exports = simdModule<Record<string, Exported>>(backend, source);
  if (exports === null) throw new Error("the SIMD module did not instantiate");
  const run = exports[name];
  if (typeof run !== "function") throw new Error(`no export ${name} in this SIMD module`);
  area.bounds.set(bounds);
  Atomics.store(area.counter, 0, 0);
  const share = [area.offset, blocks, area.offset + 4];
  const posted = helper.post(source, name, [...argsFor(1), ...share], COMMAND.share);
  const mine = argsFor(0);
  for (let block; (block = claimBlock(area.counter, blocks, false)) >= 0;) {
    run(...mine, bounds[block], bounds[block + 1]);
  }
  if (posted && !helper.finish({ until: performance.now() + SPIN_MS, polls: 0 })) {
    for (let b = 0; b < blocks; b++) run(...mine, bounds[b], bounds[b + 1]);
  }
  return true;
}

/**
 * How many blocks the calling thread and the helper took in the last shared call (from the front
 * and from the back), for diagnostics and tests; [0, 0] before any.
 */
export function lastSharedBlocks(): [number, number] {
  const state = shareArea === undefined ? 0 : Atomics.load(shareArea.counter, 0);
  return [state & 0xffff, state >>> 16];
}

/**
 * The least work (multiply-adds, or elements for a pass over memory) worth a part of its own: a
 * helper takes a few microseconds to start a part and runs its first rows slower (its caches
 * are cold), so LeNet's kernels at a batch of one ran twice as long on 2 threads as on 1.
 */
export const MIN_PART_WORK = 65_536;

let minPartWork = MIN_PART_WORK;

/**
 * Sets the least work per part (0: every call is cut for every thread, as the tests of the
 * threaded kernels need on small inputs); returns the previous value.
 */
export function setMinPartWork(work: number): number {
  const previous = minPartWork;
  minPartWork = work;
  return previous;
}

/**
 * Per module and export: how fast a helper runs a unit of its work relative to the calling thread
 * (1: as fast). Measured on each call: on our 2-core VM the helper's parts ran ~20% slower
 * (cold caches, a busier core), and the calling thread waited for it on every kernel.
 */
const speeds = new WeakMap<SimdModuleSource, Map<string, number>>();

let balanced = true;
let shared = true;

/**
 * Lets calls that ask to share their blocks (runRanges' `share`) do so (true), or cuts them into
 * one range per thread like the others (false, for comparisons); returns the previous setting.
 */
export function setSharedRanges(on: boolean): boolean {
  const previous = shared;
  shared = on;
  return previous;
}

/** Sizes ranges by the threads' measured speeds (true) or cuts them evenly (for comparisons). */
export function setBalancedRanges(on: boolean): void {
  balanced = on;
}

/** Parts under this long on the calling thread (ms) say too little to go by. */
const MIN_TIMED_MS = 0.02;

/**
 * Runs export `name` of `source`'s module over `units` units (rows, channels, taps) cut into one
 * range per thread ({@linkcode threadsFor}, or `parts`), each range a whole number of `step`
 * units (the last one ending at `units`): part p gets `args`, then `perPart(p)` where given (a
 * scratch of its own: p is below the thread count), then its range [from, to). With `work`
 * (the whole call's multiply-adds or elements), no part gets less than MIN_PART_WORK of it.
 * Unless `parts` is given, the ranges are sized by how fast each thread ran this export so far,
 * so that all finish together. With `share`, a call on two threads of at most MAX_SHARED_WORK is
 * cut into up to MAX_SHARED_BLOCKS blocks instead, the calling thread taking them from the front
 * and the helper from the back (runShared): measured in-process on `compact-cnn`, alternating
 * every 20 steps, 3.5% faster a step (median of 7 runs), more in the VM's busy spells; the kernel
 * then runs once per block, with its part's `perPart`. The kernel must compute each unit alike in
 * any range, so results do not depend on the cut.
 */
export function runRanges(
  backend: unknown,
  source: SimdModuleSource,
  name: string,
  args: readonly number[],
  units: number,
  { step = 1, parts, work, perPart, share = false }: {
    step?: number;
    parts?: number;
    work?: number;
    perPart?: (part: number) => readonly number[];
    share?: boolean;
  } = {},
): void {
  const blocks = Math.ceil(units / step);
  if (blocks === 0) return;
  let count = parts ?? threadsFor(backend);
  if (work !== undefined && minPartWork > 0) {
    count = Math.min(count, Math.max(1, Math.floor(work / minPartWork)));
  }
  count = Math.max(1, Math.min(count, blocks));
  if (share && shared && parts === undefined && count === 2 && (work ?? 0) <= MAX_SHARED_WORK) {
    // Blocks of whole steps, none under a quarter of MIN_PART_WORK.
    let pieces = Math.min(blocks, MAX_SHARED_BLOCKS);
    if (work !== undefined && minPartWork > 0) {
      pieces = Math.max(2, Math.min(pieces, Math.floor((4 * work) / minPartWork)));
    }
    const bounds = cutBounds(blocks, pieces).map((b) => Math.min(b * step, units));
    const argsFor = (p: number) => [...args, ...(perPart?.(p) ?? [])];
    if (runShared(backend, source, name, argsFor, bounds)) return;
  }
  let bySource = speeds.get(source);
  if (bySource === undefined) speeds.set(source, bySource = new Map());
  const speed = parts === undefined && balanced ? bySource.get(name) ?? 1 : 1;
  const bounds = weightedBounds(blocks, count, speed);
  const ranges = bounds.slice(0, -1).map((start, p) =>
    [start * step, Math.min(bounds[p + 1] * step, units)] as const
  );
  const times = runParts(
    backend,
    source,
    name,
    ranges.map((range, p) => [...args, ...(perPart?.(p) ?? []), ...range]),
  );
  // Learn the helpers' speed from this call: units per ms on each, against the calling thread's.
  if (count < 2 || !(times.ms[0] >= MIN_TIMED_MS)) return;
  const rate = (p: number) => (ranges[p][1] - ranges[p][0]) / times.ms[p];
  let sum = 0;
  for (let p = 1; p < count; p++) sum += rate(p) / rate(0);
  const measured = sum / (count - 1);
  if (!Number.isFinite(measured) || measured <= 0) return;
  const smoothed = Math.pow(speed, 0.75) * Math.pow(measured, 0.25);
  bySource.set(name, Math.min(2, Math.max(0.5, smoothed)));
}

/**
 * Bounds of `count` parts of `blocks` blocks, part 0 (the calling thread's) weighted 1 and each
 * other `speed`, none empty: `count + 1` ascending bounds, the last `blocks`.
 */
export function weightedBounds(blocks: number, count: number, speed: number): number[] {
  if (speed === 1) return cutBounds(blocks, count);
  const total = 1 + (count - 1) * speed;
  const bounds = [0];
  for (let p = 1; p < count; p++) {
    const at = Math.round((blocks * (1 + (p - 1) * speed)) / total);
    bounds.push(Math.min(blocks - (count - p), Math.max(bounds[p - 1] + 1, at)));
  }
  bounds.push(blocks);
  return bounds;
}

/**
 * Where `parts` parts of `units` units (rows, tiles) begin, and the end: `parts + 1` ascending
 * bounds, part p being [bounds[p], bounds[p + 1]), each ⌊units / parts⌋ or ⌈units / parts⌉ long
 * (2 parts: the first the larger).
 */
export function cutBounds(units: number, parts: number): number[] {
  return Array.from({ length: parts + 1 }, (_, p) => Math.ceil((p * units) / parts));
}

/**
 * Whether calls to `source`'s module on `backend` run on every helper now: all of the pool
 * ({@linkcode threadsFor} − 1 helpers, at least one) started and loaded the module (they do so on
 * the first calls, in the background).
 */
export function helperThreadServes(backend: unknown, source: SimdModuleSource): boolean {
  const threads = threadsFor(backend);
  if (threads < 2) return false;
  const memory = backendMemory(backend);
  for (let i = 0; i < threads - 1; i++) {
    const helper = helpers[i];
    if (helper === undefined || helper.memory !== memory || !helper.serves(source)) return false;
  }
  return true;
}

/** How many parts the helpers have run in this process (for tests). */
export function helperThreadCalls(): number {
  return helperCalls;
}

/** Ends every helper (a new backend's memory, a test's clean-up; the process needs none). */
export function closeHelperThreads(): void {
  for (const helper of helpers) helper?.close();
  helpers = [];
}

/** The helpers' learned speed per export of `source` (see runRanges), for diagnostics and tests. */
export function helperSpeeds(source: SimdModuleSource): Map<string, number> {
  return new Map(speeds.get(source) ?? []);
}
