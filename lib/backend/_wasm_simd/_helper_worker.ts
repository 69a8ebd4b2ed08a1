// Internal: one helper thread of the pool of our WebAssembly SIMD kernels (see _helper_thread.ts),
// and the layout of the control block it shares with the calling thread (each helper has its own).
// It instantiates the kernels' modules on tfjs-backend-wasm's shared memory and calls their
// exports when the calling thread posts a part of a kernel in its control block, so that one
// kernel runs on every thread of the backend with no message round trip. Between calls it spins
// briefly, then sleeps in `Atomics.wait`. It runs under `node:worker_threads` (whose `unref` lets
// the process end while this thread sleeps), like the pthreads of _pthreads.ts.
import { parentPort } from "node:worker_threads";
import {
  claimBlock,
  COMMAND,
  CONTROL,
  type HelperLoad,
  type HelperStart,
  QUEUE_ARGS,
  STATE,
} from "./_helper_protocol.ts";

/**
 * How long a helper keeps polling for the next call after its last one before it sleeps on the
 * futex. A training step calls our kernels every few hundred microseconds, with the calling
 * thread running tfjs' JavaScript in between; waking a sleeping thread took 60–90 µs on our 2-core
 * VM, more than many of LeNet's kernels take, so within a step the helper must not sleep. Idle
 * for longer (between epochs, a server between requests), it sleeps. OpenMP's threads under
 * PyTorch likewise spin a while before they block.
 */
export const SPIN_MS = 2;

type Exported = (...args: number[]) => unknown;

let control: Int32Array | undefined;
let memory: WebAssembly.Memory | undefined;
let seen = 0;
const modules: Exported[][] = [];

/** Serves commands until told to yield or end; returns true to end. */
function serve(ctrl: Int32Array): boolean {
  for (;;) {
    const since = performance.now();
    let spins = 0;
    while (Atomics.load(ctrl, CONTROL.seq) === seen) {
      // The clock is read once every 1,024 polls; after SPIN_MS, sleep until the next call.
      if ((++spins & 1023) === 0 && performance.now() - since > SPIN_MS) {
        Atomics.wait(ctrl, CONTROL.seq, seen);
      }
    }
    seen = Atomics.load(ctrl, CONTROL.seq);
    Atomics.store(ctrl, CONTROL.seen, seen);
    // The calling thread may have taken the command back (it waited too long, or a shared call
    // ran out of blocks): then skip it. The command is read once claimed, as a newer one may be
    // being written over a cancelled one.
    if (
      Atomics.compareExchange(ctrl, CONTROL.state, STATE.posted, STATE.running) !== STATE.posted
    ) {
      continue;
    }
    const command = ctrl[CONTROL.command];
    if (command === COMMAND.exit) return true;
    let state: number = STATE.done;
    if (command === COMMAND.call || command === COMMAND.share) {
      try {
        const fn = modules[ctrl[CONTROL.module]][ctrl[CONTROL.function]];
        const argc = ctrl[CONTROL.argc];
        const args = new Array<number>(argc);
        for (let i = 0; i < argc; i++) args[i] = ctrl[CONTROL.args + i];
        const start = performance.now();
        if (command === COMMAND.call) fn(...args);
        else takeFromBack(fn, args);
        ctrl[CONTROL.elapsed] = Math.min(0x7fffffff, Math.round((performance.now() - start) * 1e4));
      } catch {
        state = STATE.failed; // the calling thread runs the part itself
      }
    }
    Atomics.store(ctrl, CONTROL.state, state);
    Atomics.notify(ctrl, CONTROL.state);
    if (command === COMMAND.yield) return false;
  }
}

/** Runs `fn` on the blocks of a shared call this thread claims from the back (QUEUE_ARGS). */
function takeFromBack(fn: Exported, args: number[]): void {
  const [counterAt, blocks, boundsAt] = args.slice(-QUEUE_ARGS);
  const rest = args.slice(0, -QUEUE_ARGS);
  const counter = new Int32Array(memory!.buffer, counterAt, 1);
  const bounds = new Int32Array(memory!.buffer, boundsAt, blocks + 1);
  for (let block; (block = claimBlock(counter, blocks, true)) >= 0;) {
    fn(...rest, bounds[block], bounds[block + 1]);
  }
}

const port = parentPort;
port?.on("message", (data: unknown) => {
  const message = data as Partial<HelperStart & HelperLoad>;
  if (message.memory !== undefined && message.control !== undefined) {
    memory = message.memory;
    control = new Int32Array(memory.buffer, message.control, CONTROL.length);
    seen = Atomics.load(control, CONTROL.seq);
    Atomics.store(control, CONTROL.seen, seen);
  }
  if (message.module !== undefined && message.index !== undefined && memory !== undefined) {
    const instance = new WebAssembly.Instance(message.module, { env: { memory } });
    const exports = instance.exports as Record<string, Exported>;
    modules[message.index] = WebAssembly.Module.exports(message.module)
      .filter((entry) => entry.kind === "function")
      .map((entry) => exports[entry.name]);
    Atomics.store(control!, CONTROL.loaded + message.index, 1);
  }
  if (control === undefined) return;
  Atomics.store(control, CONTROL.ready, 1);
  // The exit command: the calling thread terminates this worker next. (Deno's `parentPort` has
  // no `close`; `self.close()` ends a Deno worker.)
  if (serve(control)) (globalThis as { close?: () => void }).close?.();
});
