// The cut of a kernel's work between the calling thread and its helpers (_helper_thread.ts):
// even bounds, bounds weighted by the helpers' measured speed, and the speeds learned while a
// model trains; blocks shared from both ends (each claimed once, the same bytes as one range
// each, the helper taking part). (wasm_threads_test.ts checks that weights stay identical on 1,
// 2 and 3 threads with these cuts.)
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  createTrainStep,
  setWasmThreads,
  useBackend,
  wasmThreads,
} from "../../mod.ts";
import {
  closeHelperThreads,
  cutBounds,
  helperSpeeds,
  helperThreadCalls,
  helperThreadServes,
  type HelperWorker,
  lastSharedBlocks,
  setHelperWorkerClass,
  setMinPartWork,
  setSharedRanges,
  threadsFor,
  weightedBounds,
} from "../../lib/backend/_wasm_simd/_helper_thread.ts";
import { claimBlock, CONTROL, STATE } from "../../lib/backend/_wasm_simd/_helper_protocol.ts";
import { SOURCE } from "../../lib/backend/_wasm_simd/conv2d_forward.ts";
import { SOURCE as WINOGRAD } from "../../lib/backend/_wasm_simd/winograd.ts";
import { assertSameBytes } from "./_assert.ts";
import { random } from "./_conv_cases.ts";
import { callUntil } from "./_threads.ts";

/** Ascending, from 0 to `blocks`, `count` parts, none empty. */
function assertCut(bounds: number[], blocks: number, count: number, label: string) {
  assert.equal(bounds.length, count + 1, label);
  assert.equal(bounds[0], 0, label);
  assert.equal(bounds[count], blocks, label);
  for (let p = 0; p < count; p++) assert.ok(bounds[p + 1] > bounds[p], `${label}: part ${p}`);
}

Deno.test("cutBounds: near-equal parts; weightedBounds: sized by speed, none empty", () => {
  assert.deepEqual(cutBounds(10, 2), [0, 5, 10]);
  assert.deepEqual(cutBounds(7, 3), [0, 3, 5, 7]);
  assert.deepEqual(weightedBounds(10, 2, 1), cutBounds(10, 2));
  // A helper half as fast takes a third of the work; twice as fast, two thirds.
  assert.deepEqual(weightedBounds(768, 2, 0.5), [0, 512, 768]);
  assert.deepEqual(weightedBounds(768, 2, 2), [0, 256, 768]);
  assert.deepEqual(weightedBounds(9, 3, 0.5), [0, 5, 7, 9]);
  for (const [blocks, count] of [[2, 2], [3, 3], [5, 4], [100, 7]]) {
    for (const speed of [0.5, 0.8, 1, 1.7, 2]) {
      assertCut(weightedBounds(blocks, count, speed), blocks, count, `${blocks}/${count}/${speed}`);
    }
  }
});

Deno.test("wasm on 2 threads: the helper's speed is learned per kernel, within [0.5, 2]", async () => {
  const before = wasmThreads();
  try {
    assert.equal(await setWasmThreads(2), 2);
    await useBackend("wasm");
    // One range per thread (the shared blocks learn nothing).
    setSharedRanges(false);
    const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
    const step = createTrainStep(model, tf.train.adam(1e-3), 10);
    const x = tf.randomNormal([64, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
    const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), "int32");
    // The helper starts on the first calls and loads the module in the background.
    await callUntil(() => step(x, y).dispose(), () => helperSpeeds(SOURCE).has("fw_conv_pool"));
    const speed = helperSpeeds(SOURCE).get("fw_conv_pool");
    assert.ok(speed !== undefined && speed >= 0.5 && speed <= 2, `speed ${speed}`);
    tf.dispose([x, y]);
    model.dispose();
  } finally {
    setSharedRanges(true);
    await setWasmThreads(before);
  }
});

Deno.test("claimBlock: the front and the back take each block once, and meet", () => {
  for (const blocks of [1, 2, 7, 32]) {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const taken: number[] = [];
    for (let turn = 0;; turn++) {
      const block = claimBlock(counter, blocks, turn % 3 === 2);
      if (block < 0) break;
      taken.push(block);
    }
    assert.deepEqual([...taken].sort((a, b) => a - b), Array.from({ length: blocks }, (_, i) => i));
    assert.equal(claimBlock(counter, blocks, false), -1);
    assert.equal(claimBlock(counter, blocks, true), -1);
  }
});

/**
 * A 3×3 convolution + ReLU of 16×16 images, 16 → 32 channels (run by Winograd, on helpers), and a
 * function that runs it and reads its output.
 */
function convCase() {
  const x = tf.tensor(random([6, 16, 16, 16], 1), [6, 16, 16, 16]) as tf.Tensor4D;
  const filter = tf.tensor(random([3, 3, 16, 32], 2), [3, 3, 16, 32]) as tf.Tensor4D;
  const run = () =>
    tf.tidy(() =>
      tf.fused.conv2d({ x, filter, strides: 1, pad: "same", activation: "relu" }).dataSync()
    ) as Float32Array;
  return { x, filter, run };
}

Deno.test("wasm on 2 threads: blocks shared from both ends = one range each, the helper taking part", async () => {
  const before = wasmThreads();
  const minWork = setMinPartWork(0);
  try {
    assert.equal(await setWasmThreads(2), 2);
    await useBackend("wasm");
    const { x, filter, run } = convCase();
    setSharedRanges(false);
    const expected = run();
    setSharedRanges(true);
    // The helper loads the module on the first calls, in the background.
    let calls = helperThreadCalls();
    await callUntil(run, () => helperThreadCalls() > calls);
    calls = helperThreadCalls();
    // At least 5 runs, and until the helper took blocks (a busy core may keep it off a few).
    let helperBlocks = 0;
    let runs = 0;
    await callUntil(() => {
      assertSameBytes(run(), expected, `shared run ${runs}`);
      const [front, back] = lastSharedBlocks();
      assert.ok(front + back >= 2, `run ${runs}: ${front} + ${back} blocks`);
      helperBlocks += back;
      runs++;
    }, () => runs >= 5 && helperBlocks > 0);
    assert.ok(helperThreadCalls() > calls && helperBlocks > 0, "the helper took blocks");
    tf.dispose([x, filter]);
  } finally {
    setSharedRanges(true);
    setMinPartWork(minWork);
    await setWasmThreads(before);
  }
});

/**
 * A helper's worker that never runs a call: it says it is ready and has loaded each module, and
 * the test moves its control block by hand.
 */
class StalledWorker implements HelperWorker {
  static last: StalledWorker | undefined;
  control: Int32Array | undefined;
  constructor(_url: URL) {
    StalledWorker.last = this;
  }
  unref(): void {}
  on(): this {
    return this;
  }
  postMessage(message: unknown): void {
    const { memory, control, module, index } = message as {
      memory?: WebAssembly.Memory;
      control?: number;
      module?: WebAssembly.Module;
      index?: number;
    };
    if (memory !== undefined && control !== undefined) {
      this.control = new Int32Array(memory.buffer, control, CONTROL.length);
      Atomics.store(this.control, CONTROL.ready, 1);
    }
    if (module !== undefined && index !== undefined) {
      Atomics.store(this.control!, CONTROL.loaded + index, 1);
    }
  }
  terminate(): void {}
  /** Takes every command posted so far without running it, as if done (a yield). */
  takeAll(): void {
    Atomics.store(this.control!, CONTROL.seen, Atomics.load(this.control!, CONTROL.seq));
    Atomics.store(this.control!, CONTROL.state, STATE.done);
  }
  /** Catches up with the commands posted, skipping them (they were taken back). */
  catchUp(): void {
    Atomics.store(this.control!, CONTROL.seen, Atomics.load(this.control!, CONTROL.seq));
  }
}

Deno.test("wasm on 2 threads: a helper that misses its calls is skipped until it catches up, then given up", async () => {
  const before = wasmThreads();
  const minWork = setMinPartWork(0);
  closeHelperThreads();
  const workerClass = setHelperWorkerClass(StalledWorker);
  try {
    assert.equal(await setWasmThreads(2), 2);
    await useBackend("wasm");
    const { x, filter, run } = convCase();
    // The helper starts and is sent the (Winograd) module, then a yield it never takes up: the
    // calling thread runs everything, at once.
    const expected = run();
    const worker = StalledWorker.last!;
    assert.ok(worker !== undefined, "the helper started");
    assertSameBytes(run(), expected, "with the yield not taken");
    worker.takeAll();
    assert.ok(helperThreadServes(tf.backend(), WINOGRAD));
    for (let stall = 1; stall <= 3; stall++) {
      // Posted, never taken up: taken back after a second and run here.
      const start = performance.now();
      assertSameBytes(run(), expected, `stall ${stall}`);
      assert.ok(performance.now() - start >= 900, `stall ${stall}: waited for the helper`);
      if (stall === 3) break;
      assert.equal(threadsFor(tf.backend()), 2, `stall ${stall}: the helper is kept`);
      assert.ok(!helperThreadServes(tf.backend(), WINOGRAD), `stall ${stall}: behind`);
      const quick = performance.now();
      assertSameBytes(run(), expected, `stall ${stall}: behind`);
      assert.ok(performance.now() - quick < 900, `stall ${stall}: no wait while it is behind`);
      worker.catchUp();
      assert.ok(helperThreadServes(tf.backend(), WINOGRAD), `stall ${stall}: caught up`);
    }
    // Given up for good: its calls run here, with no wait.
    assert.equal(threadsFor(tf.backend()), 1, "given up after three stalls");
    const quick = performance.now();
    assertSameBytes(run(), expected, "given up");
    assert.ok(performance.now() - quick < 900, "no wait once given up");
    tf.dispose([x, filter]);
  } finally {
    closeHelperThreads();
    setHelperWorkerClass(workerClass);
    setMinPartWork(minWork);
    await setWasmThreads(before);
  }
});
