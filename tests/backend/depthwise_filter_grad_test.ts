// The depthwise filter gradient's WebAssembly SIMD kernel (lib/backend/_wasm_simd/
// depthwise_filter_grad.ts) against tfjs-backend-cpu's DepthwiseConv2dNativeBackpropFilter:
// relative error ≤ 1e-4 over kernels 1×1 to 7×7 and non-square, strides 1, 2 and 3 (unequal
// too), 'same', 'valid' and explicit asymmetric padding, odd and even sizes, a kernel wider than
// its input, 1 channel and channel counts with a tail (6, 13), batches of 1 to 3; the same bytes
// however the channels are cut (1 to 5 parts) and on one thread, two and three (a pool of
// helpers); the composed fallback where the kernel does not apply; no buffer left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { useBackend, wasmFeatures } from "../../mod.ts";
import {
  simdDepthwiseFilterGradient,
  simdDepthwiseFilterGradientSupports,
  SOURCE,
} from "../../lib/backend/_wasm_simd/depthwise_filter_grad.ts";
import { setDepthwiseFilterGradSimd } from "../../lib/backend/_wasm_kernels/depthwise_backprop_filter.ts";
import { type Pad, random, type Shape4 } from "./_conv_cases.ts";

interface Case {
  x: Shape4;
  k: [number, number];
  stride: [number, number];
  pad: Pad;
  multiplier?: number;
  dilation?: number;
}

const c = (
  x: Shape4,
  k: [number, number],
  stride: number | [number, number],
  pad: Pad,
): Case => ({ x, k, stride: typeof stride === "number" ? [stride, stride] : stride, pad });

const CASES: Case[] = [
  // MobileNetV2's blocks: 3×3 `same` at strides 1 and 2 (odd and even sizes).
  c([2, 9, 11, 8], [3, 3], 1, "same"),
  c([3, 9, 11, 16], [3, 3], 2, "same"),
  c([2, 10, 12, 24], [3, 3], 2, "same"),
  c([1, 14, 14, 96], [3, 3], 1, "same"),
  // EfficientNet's 5×5, strided.
  c([2, 11, 13, 8], [5, 5], 2, "same"),
  c([1, 12, 12, 20], [5, 5], 1, "valid"),
  // One channel, and tails of 2 and 1 channels past whole vectors.
  c([3, 7, 6, 1], [3, 3], 1, "same"),
  c([2, 8, 9, 6], [3, 3], 2, "same"),
  c([3, 7, 9, 13], [3, 3], 1, "valid"),
  c([1, 9, 9, 13], [5, 5], 2, "same"),
  // Other widths (7: tiles of 5 and 2; 4 and 2), a 1×1, stride 3, unequal strides.
  c([2, 9, 10, 5], [7, 7], 1, "same"),
  c([2, 8, 8, 12], [2, 4], [1, 2], "same"),
  c([1, 5, 5, 20], [1, 1], 2, "valid"),
  c([2, 10, 10, 7], [3, 3], 3, "valid"),
  // Rows and columns a stride never reads, explicit asymmetric padding, a kernel wider than x.
  c([2, 10, 10, 4], [3, 3], 2, "valid"),
  c([2, 8, 9, 10], [3, 3], 2, [[0, 0], [1, 2], [2, 0], [0, 0]]),
  c([1, 6, 7, 3], [3, 2], 1, [[0, 0], [3, 0], [0, 4], [0, 0]]),
  c([1, 3, 4, 4], [5, 5], 1, "same"),
];

function info(k: Case): tf.backend_util.Conv2DInfo {
  const filter: Shape4 = [k.k[0], k.k[1], k.x[3], k.multiplier ?? 1];
  return tf.backend_util.computeConv2DInfo(
    k.x,
    filter,
    k.stride,
    k.dilation ?? 1,
    k.pad,
    undefined,
    true,
  );
}

function dyShape(k: Case): Shape4 {
  const i = info(k);
  return [i.batchSize, i.outHeight, i.outWidth, i.outChannels];
}

function inputs(k: Case, seed: number) {
  return { x: random(k.x, seed), dy: random(dyShape(k), seed + 1) };
}

/** The registered DepthwiseConv2dNativeBackpropFilter kernel's gradient on the current backend. */
function registered(k: Case, values: ReturnType<typeof inputs>): Float32Array {
  const attrs = {
    strides: k.stride,
    pad: k.pad,
    dilations: [k.dilation ?? 1, k.dilation ?? 1],
    filterShape: [k.k[0], k.k[1], k.x[3], k.multiplier ?? 1],
  };
  const x = tf.tensor(values.x, k.x);
  const dy = tf.tensor(values.dy, dyShape(k));
  const dw = tf.engine().runKernel(
    "DepthwiseConv2dNativeBackpropFilter",
    { x, dy },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  const result = dw.dataSync().slice() as Float32Array;
  tf.dispose([x, dy, dw]);
  return result;
}

/** tfjs-backend-cpu's gradient. */
async function expected(k: Case, values: ReturnType<typeof inputs>): Promise<Float32Array> {
  await useBackend("cpu");
  return registered(k, values);
}

/** Our SIMD kernel's gradient on the current wasm backend, its channels cut in `parts`. */
function simd(k: Case, values: ReturnType<typeof inputs>, parts?: number): Float32Array {
  const x = tf.tensor(values.x, k.x);
  const dy = tf.tensor(values.dy, dyShape(k));
  const dw = simdDepthwiseFilterGradient(tf.backend(), x, dy, info(k), parts);
  assert.ok(dw !== undefined, "our SIMD depthwise filter gradient runs on this engine");
  assert.deepEqual(dw.shape, [k.k[0], k.k[1], k.x[3], 1]);
  const result = tf.backend().readSync(dw.dataId) as Float32Array;
  tf.backend().disposeData(dw.dataId);
  tf.dispose([x, dy]);
  return result.slice();
}

const label = (k: Case) =>
  `x=${k.x} k=${k.k} stride=${k.stride} pad=${JSON.stringify(k.pad)}` +
  (k.multiplier ? ` m=${k.multiplier}` : "") + (k.dilation ? ` d=${k.dilation}` : "");

Deno.test("the depthwise filter gradient's SIMD kernel matches cpu, the registered kernel too", async (t) => {
  for (const [i, k] of CASES.entries()) {
    await t.step(label(k), async () => {
      const values = inputs(k, 100 + 2 * i);
      const wanted = await expected(k, values);
      await useBackend("wasm");
      assertClose(simd(k, values), wanted, label(k));
      assertClose(registered(k, values), wanted, `${label(k)}: registered`);
    });
  }
});

Deno.test("the SIMD depthwise filter gradient: the same bytes however its channels are cut", async () => {
  await useBackend("wasm");
  for (const [i, k] of CASES.entries()) {
    const values = inputs(k, 300 + 2 * i);
    const one = simd(k, values, 1);
    for (const parts of [2, 3, 5]) {
      assertSameBytes(simd(k, values, parts), one, `${label(k)}: ${parts} parts and 1`);
    }
  }
});

Deno.test("the composed path where the SIMD kernel does not apply, and when it is off", async (t) => {
  const others: Case[] = [
    { ...c([2, 7, 8, 3], [3, 3], 1, "same"), multiplier: 2 },
    { ...c([2, 9, 9, 4], [3, 3], 1, "valid"), dilation: 2 },
  ];
  for (const k of others) {
    assert.ok(!simdDepthwiseFilterGradientSupports(info(k)), label(k));
  }
  assert.ok(simdDepthwiseFilterGradientSupports(info(CASES[0])));
  // tfjs-backend-cpu ignores `dilations`: the dilated case is held to the SIMD kernel's result
  // of the same problem with a zero-spread filter in wasm_kernels_test.ts; here the multiplier.
  for (const k of [others[0], CASES[1], CASES[8]]) {
    await t.step(`composed: ${label(k)}`, async () => {
      const values = inputs(k, 7);
      const wanted = await expected(k, values);
      await useBackend("wasm");
      setDepthwiseFilterGradSimd(false);
      try {
        assertClose(registered(k, values), wanted, label(k));
      } finally {
        setDepthwiseFilterGradSimd(true);
      }
    });
  }
});

Deno.test("the composed path over a large batch, in chunks of samples, = the SIMD kernel", async () => {
  // dy of 2.2M floats a sample, over half the composed path's chunk: one sample a chunk, two
  // partial sums (wasm_kernels_test.ts holds this shape to cpu, which now takes the SIMD kernel).
  const k = c([2, 128, 128, 136], [3, 3], 1, "same");
  const values = inputs(k, 11);
  await useBackend("wasm");
  const fast = simd(k, values);
  setDepthwiseFilterGradSimd(false);
  try {
    assertClose(registered(k, values), fast, label(k));
  } finally {
    setDepthwiseFilterGradSimd(true);
  }
});

Deno.test("the SIMD depthwise filter gradient leaves no buffer behind", async () => {
  await useBackend("wasm");
  const before = tf.backend().numDataIds();
  for (const k of [CASES[0], CASES[7], CASES[8]]) {
    const values = inputs(k, 3);
    simd(k, values, 2);
    registered(k, values);
  }
  assert.equal(tf.backend().numDataIds(), before);
});

Deno.test({
  name: "the SIMD depthwise filter gradient on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const values = CASES.map((k, i) => inputs(k, 40 + 2 * i));
    const all = () => CASES.map((k, i) => registered(k, values[i]));
    const { byThreads, one } = await resultsOnThreads(SOURCE, all, (threads, calls) => {
      // One part per thread, at most one per vector of channels.
      const helperParts = CASES.reduce(
        (n, k) => n + Math.min(threads, Math.ceil(k.x[3] / 4)) - 1,
        0,
      );
      assert.equal(calls, helperParts, `${threads} threads: the helpers took every part`);
    });
    for (const [i, k] of CASES.entries()) {
      for (const [threads, results] of byThreads) {
        assertSameBytes(results[i], one[i], `${label(k)}: ${threads} threads and 1`);
      }
    }
  },
});
