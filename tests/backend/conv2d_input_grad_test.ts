// The input gradient's WebAssembly SIMD kernel (lib/backend/_wasm_simd/conv2d_input_grad.ts)
// against tfjs-backend-cpu's Conv2DBackpropInput: relative error ≤ 1e-4 over 'valid', 'same' and
// explicit asymmetric padding, kernels 1×1 to 5×5 and non-square, 1 to 16 input channels (each
// register tile, padded channels or not) and 1 to 32 output channels, odd sizes; the same bytes
// on one thread, two and three (a pool of helpers); no buffer left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { useBackend, wasmFeatures } from "../../mod.ts";
import {
  SIMD_INPUT_GRADIENT_LIMIT,
  simdInputGradient,
  simdInputGradientApplies,
  SOURCE,
} from "../../lib/backend/_wasm_simd/conv2d_input_grad.ts";
import { type Pad, random, type Shape4 } from "./_conv_cases.ts";
import { setWinograd } from "../../lib/backend/_wasm_simd/winograd.ts";
// This file tests the direct SIMD kernels: 3×3, stride-1 layers would take the Winograd path
// (winograd_test.ts tests it), so it is off here.
setWinograd(false);

interface Case {
  x: Shape4;
  k: [number, number];
  out: number;
  pad: Pad;
}

const CASES: Case[] = [
  // LeNet's second layer (10 channels padded to 12), a batch of 3.
  { x: [3, 12, 12, 10], k: [5, 5], out: 20, pad: "valid" },
  // 'valid' with 16 channels: accumulated in dx itself.
  { x: [2, 9, 11, 16], k: [3, 5], out: 20, pad: "valid" },
  { x: [2, 9, 11, 16], k: [3, 3], out: 32, pad: "same" },
  { x: [3, 7, 13, 3], k: [3, 3], out: 32, pad: "same" },
  { x: [2, 8, 9, 10], k: [3, 3], out: 20, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { x: [1, 6, 7, 3], k: [3, 2], out: 5, pad: [[0, 0], [3, 0], [0, 4], [0, 0]] },
  { x: [2, 7, 5, 16], k: [1, 1], out: 32, pad: "valid" },
  { x: [2, 7, 5, 1], k: [1, 1], out: 1, pad: "same" },
  { x: [1, 11, 7, 1], k: [5, 3], out: 1, pad: "same" },
  { x: [2, 13, 9, 1], k: [5, 5], out: 20, pad: "valid" },
  { x: [2, 5, 19, 10], k: [1, 3], out: 1, pad: "same" },
  { x: [1, 9, 9, 10], k: [5, 5], out: 32, pad: "same" },
  { x: [2, 6, 6, 16], k: [5, 5], out: 1, pad: "valid" },
];

function info(c: Case): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.out], 1, 1, c.pad);
}

function dyShape(c: Case): Shape4 {
  const i = info(c);
  return [i.batchSize, i.outHeight, i.outWidth, i.outChannels];
}

function inputs(c: Case, seed: number) {
  const filter: Shape4 = [c.k[0], c.k[1], c.x[3], c.out];
  return { dy: random(dyShape(c), seed), filter: random(filter, seed + 1) };
}

/** The registered Conv2DBackpropInput kernel's gradient on the current backend. */
function registered(c: Case, values: ReturnType<typeof inputs>): Float32Array {
  const attrs = { strides: [1, 1], pad: c.pad, dataFormat: "NHWC", inputShape: c.x };
  const dy = tf.tensor(values.dy, dyShape(c));
  const filter = tf.tensor(values.filter, [c.k[0], c.k[1], c.x[3], c.out]);
  const dx = tf.engine().runKernel(
    "Conv2DBackpropInput",
    { dy, filter },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  const result = dx.dataSync().slice() as Float32Array;
  tf.dispose([dy, filter, dx]);
  return result;
}

/** tfjs-backend-cpu's gradient. */
async function expected(c: Case, values: ReturnType<typeof inputs>): Promise<Float32Array> {
  await useBackend("cpu");
  return registered(c, values);
}

/** Our SIMD kernel's gradient on the current wasm backend (whatever the size limits say). */
function simd(c: Case, values: ReturnType<typeof inputs>): Float32Array {
  const dy = tf.tensor(values.dy, dyShape(c));
  const filter = tf.tensor(values.filter, [c.k[0], c.k[1], c.x[3], c.out]);
  const dx = simdInputGradient(tf.backend(), dy, filter, info(c), true);
  assert.ok(dx !== undefined, "our SIMD input gradient runs on this engine");
  assert.deepEqual(dx.shape, c.x);
  const result = tf.backend().readSync(dx.dataId) as Float32Array;
  tf.backend().disposeData(dx.dataId);
  tf.dispose([dy, filter]);
  return result.slice();
}

const label = (c: Case) => `x=${c.x} k=${c.k} out=${c.out} pad=${JSON.stringify(c.pad)}`;

Deno.test("Conv2DBackpropInput's SIMD kernel matches cpu", async (t) => {
  for (const [i, c] of CASES.entries()) {
    await t.step(label(c), async () => {
      const values = inputs(c, 100 + 2 * i);
      const wanted = await expected(c, values);
      await useBackend("wasm");
      assertClose(simd(c, values), wanted, label(c));
    });
  }
});

Deno.test("Conv2DBackpropInput on wasm matches cpu where it takes the SIMD kernel", async () => {
  const c: Case = { x: [4, 12, 12, 10], k: [5, 5], out: 20, pad: "valid" };
  assert.ok(simdInputGradientApplies(info(c)), "LeNet's second layer takes the SIMD kernel");
  const values = inputs(c, 7);
  const wanted = await expected(c, values);
  await useBackend("wasm");
  assertClose(registered(c, values), wanted, label(c));
});

Deno.test("the SIMD input gradient leaves no buffer behind", async () => {
  await useBackend("wasm");
  const c = CASES[4];
  const values = inputs(c, 3);
  const before = tf.backend().numDataIds();
  for (let i = 0; i < 3; i++) simd(c, values);
  const attrs = { strides: [1, 1], pad: "valid", dataFormat: "NHWC", inputShape: [2, 12, 12, 10] };
  const dy = tf.ones([2, 8, 8, 20]);
  const filter = tf.ones([5, 5, 10, 20]);
  const dx = tf.engine().runKernel(
    "Conv2DBackpropInput",
    { dy, filter },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  tf.dispose([dy, filter, dx]);
  assert.equal(tf.backend().numDataIds(), before);
});

Deno.test("only stride-1, undilated layers within the limits take the SIMD kernel", () => {
  const at = (x: Shape4, f: Shape4, stride: number, pad: Pad, dilation = 1) =>
    simdInputGradientApplies(tf.backend_util.computeConv2DInfo(x, f, stride, dilation, pad));
  assert.ok(at([64, 12, 12, 10], [5, 5, 10, 20], 1, "valid"), "LeNet");
  assert.ok(!at([64, 12, 12, 10], [5, 5, 10, 20], 2, "valid"), "strided");
  assert.ok(!at([64, 12, 12, 10], [3, 3, 10, 20], 1, "valid", 2), "dilated");
  assert.ok(at([64, 16, 16, 16], [3, 3, 16, 32], 1, "same"), "compact-cnn");
  assert.ok(at([8, 4, 4, 512], [3, 3, 512, 512], 1, "same"), "ResNet-18's largest");
  assert.ok(!at([8, 4, 4, 512], [3, 3, 512, 1024], 1, "same"), "above the limit");
  assert.equal(SIMD_INPUT_GRADIENT_LIMIT, 3 * 3 * 512 * 512);
});

Deno.test({
  name:
    "Conv2DBackpropInput's SIMD kernel on 2 and 3 threads (a pool of helpers) = cpu, = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    // Odd row counts (the cuts fall inside an image), one image, LeNet's layer.
    const cases = [CASES[0], CASES[3], CASES[4], CASES[8], CASES[11]];
    const values = cases.map((c, i) => inputs(c, 40 + 2 * i));
    const wanted: Float32Array[] = [];
    for (const [i, c] of cases.entries()) wanted.push(await expected(c, values[i]));
    const all = () => cases.map((c, i) => simd(c, values[i]));
    const { byThreads, one } = await resultsOnThreads(SOURCE, all, (threads, calls) =>
      assert.equal(
        calls,
        cases.length * (threads - 1),
        `${threads} threads: the helpers took every part`,
      ));
    for (const [i, c] of cases.entries()) {
      assertClose(one[i], wanted[i], label(c));
      for (const [threads, results] of byThreads) {
        assertSameBytes(results[i], one[i], `${label(c)}: ${threads} threads and 1`);
      }
    }
  },
});
