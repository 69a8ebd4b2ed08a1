// Internal: the control block a helper thread of our SIMD kernels shares with the calling thread,
// and the messages it is sent (see _helper_thread.ts and _helper_worker.ts). Apart from the
// worker's own file so that the calling side imports no `node:` module.

/** Int32 slots of the control block (on tfjs' heap, kept while the helper lives). */
export const CONTROL = {
  /** Bumped by the calling thread for each command; the helper waits on it. */
  seq: 0,
  /** The current command's state (STATE below); the calling thread waits on it. */
  state: 1,
  /** The command: COMMAND below. */
  command: 2,
  /** The module (its index in the order they were loaded) and the export (its index in
   * `WebAssembly.Module.exports`, functions only) to call. */
  module: 3,
  function: 4,
  /** How many int arguments follow at `args`. */
  argc: 5,
  /** 1 once the helper waits for commands. */
  ready: 6,
  /** How long the last call took on the helper, in tenths of a microsecond. */
  elapsed: 7,
  /** The last `seq` the helper has taken up (run or skipped): it is behind while they differ. */
  seen: 8,
  /** The arguments. */
  args: 9,
  /** 1 at `loaded + i` once module i is instantiated on the helper. */
  loaded: 33,
  /** The block's length. */
  length: 65,
} as const;

/** At most this many int arguments per call. */
export const MAX_ARGS = CONTROL.loaded - CONTROL.args;
/** At most this many modules. */
export const MAX_MODULES = CONTROL.length - CONTROL.loaded;

/** A command's life: posted, taken by the helper (or cancelled by the calling thread), done. */
export const STATE = { idle: 0, posted: 1, running: 2, done: 3, failed: 4, cancelled: 5 } as const;

/**
 * What the helper is asked: call an export, go back to its event loop (to take messages), end,
 * or share a call's blocks with the calling thread from the other end (QUEUE_ARGS).
 */
export const COMMAND = { call: 0, yield: 1, exit: 2, share: 3 } as const;

/**
 * A share command's last three arguments: the heap address of the Int32 claim counter (blocks
 * taken from the front in its low 16 bits, from the back in its high bits), the block count,
 * then the address of the Int32Array [blocks + 1] of the blocks' bounds. The calling thread
 * takes blocks from the front and the helper from the back, each with one call of the export
 * (its other arguments, then the block's range), until they meet.
 */
export const QUEUE_ARGS = 3;

/**
 * Claims the next block of a shared call from the front (`back` false) or the back: its index,
 * or -1 when none is left. `counter` holds the front count in its low 16 bits and the back count
 * in the high bits.
 */
export function claimBlock(counter: Int32Array, blocks: number, back: boolean): number {
  for (;;) {
    const state = Atomics.load(counter, 0);
    const front = state & 0xffff, taken = state >>> 16;
    if (front + taken >= blocks) return -1;
    const next = back ? state + 0x10000 : state + 1;
    if (Atomics.compareExchange(counter, 0, state, next) === state) {
      return back ? blocks - 1 - taken : front;
    }
  }
}

/** The first message: the memory, the control block's address, the first module. */
export interface HelperStart {
  memory: WebAssembly.Memory;
  control: number;
}

/** A module to instantiate, as module `index`. */
export interface HelperLoad {
  index: number;
  module: WebAssembly.Module;
}
