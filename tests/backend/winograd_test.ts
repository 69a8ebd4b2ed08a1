// The Winograd F(2×2, 3×3) and F(4×4, 3×3) kernels (lib/backend/_wasm_simd/winograd.ts) against
// tfjs-backend-cpu: the forward convolution (bias, ReLU), the input gradient and the filter
// gradient (F(2×2) only), relative error
// ≤ 1e-4 over 'same', 'valid' and explicit padding, odd sizes (tiles past the edge), channel
// counts with and without a tail of 1 to 3, batches of 1 to 3; the registered kernels take the
// path where its rule says; the same bytes on 1, 2 and 3 threads; no buffer left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { useBackend, wasmFeatures } from "../../mod.ts";
import {
  GRADIENT_MIN_CHANNEL_PRODUCT,
  GRADIENT_MIN_SIDE,
  setWinograd,
  setWinogradLargeTiles,
  SOURCE,
  WINOGRAD_MIN_CHANNELS,
  winogradFilterGradient,
  winogradForward,
  winogradInputGradient,
  winogradSupports,
} from "../../lib/backend/_wasm_simd/winograd.ts";
import { random, type Shape4 } from "./_conv_cases.ts";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [
  number,
  number,
]];

interface Case {
  x: Shape4;
  out: number;
  pad: Pad;
}

const explicit: Pad = [[0, 0], [2, 0], [0, 1], [0, 0]];
// Channel tails of 1 to 3 on either side; the filter gradient takes the path from 256 input ×
// output channels (GRADIENT_MIN_CHANNEL_PRODUCT) and a 4×4 output, summed by chunks of images up
// to 64 × 64 channels, by ranges of output channels above.
const CASES: Case[] = [
  { x: [2, 16, 16, 16], out: 32, pad: "same" }, // compact-cnn's second layer
  { x: [3, 8, 8, 32], out: 64, pad: "same" }, // its third
  { x: [1, 7, 9, 33], out: 33, pad: "same" }, // odd sides: tiles past the edge
  { x: [2, 7, 6, 43], out: 24, pad: "valid" }, // a 5×4 output
  { x: [2, 9, 6, 34], out: 38, pad: explicit }, // asymmetric padding
  { x: [1, 4, 4, 64], out: 12, pad: "same" }, // one tile row per image
  { x: [2, 6, 12, 8], out: 9, pad: "valid" }, // a 4-row output, few channels
  // F(4×4, 3×3) forward (sides of 8 and more): 4×4 tiles past the edges on both axes.
  { x: [2, 10, 11, 12], out: 14, pad: "same" },
  { x: [1, 13, 14, 9], out: 10, pad: "same" },
  { x: [2, 16, 15, 17], out: 12, pad: "valid" },
  { x: [9, 4, 5, 20], out: 21, pad: "same" }, // 5 chunks of 2 images and 1
  { x: [1, 6, 6, 72], out: 69, pad: "same" }, // the gradient by ranges of output channels
  // Larger filter gradients and F(4×4) forward passes: partial tiles, channel tails, chunks.
  { x: [3, 13, 14, 17], out: 20, pad: "same" },
  { x: [2, 14, 17, 24], out: 18, pad: "valid" },
  { x: [9, 12, 13, 16], out: 22, pad: explicit }, // 12×12 outputs, 5 chunks of images
];

/** Whether the filter gradient takes the Winograd path for `k`. */
const gradientTaken = (k: Case) =>
  Math.min(info(k).outHeight, info(k).outWidth) >= GRADIENT_MIN_SIDE &&
  k.x[3] * k.out >= GRADIENT_MIN_CHANNEL_PRODUCT;

function info(k: Case) {
  return tf.backend_util.computeConv2DInfo(k.x, [3, 3, k.x[3], k.out], 1, 1, k.pad);
}

const outShape = (k: Case): Shape4 => {
  const i = info(k);
  return [k.x[0], i.outHeight, i.outWidth, k.out];
};

function values(k: Case, seed: number) {
  return {
    x: random(k.x, seed),
    filter: random([3, 3, k.x[3], k.out], seed + 1),
    bias: random([k.out], seed + 2),
    dy: random(outShape(k), seed + 3),
  };
}
type Values = ReturnType<typeof values>;

const tensors = (k: Case, v: Values) => ({
  x: tf.tensor4d(v.x, k.x),
  filter: tf.tensor4d(v.filter, [3, 3, k.x[3], k.out]),
  bias: tf.tensor1d(v.bias),
  dy: tf.tensor4d(v.dy, outShape(k)),
});

/** The three results by the registered kernels on the active backend. */
function registered(k: Case, v: Values, activation: "relu" | "linear"): Float32Array[] {
  const t = tensors(k, v);
  const attrs = { strides: [1, 1], pad: k.pad, dataFormat: "NHWC", dilations: [1, 1] };
  const outs = [
    tf.fused.conv2d({ ...t, strides: 1, pad: k.pad, activation }),
    tf.engine().runKernel("Conv2DBackpropInput", { dy: t.dy, filter: t.filter }, {
      ...attrs,
      inputShape: k.x,
    }) as tf.Tensor,
    tf.engine().runKernel("Conv2DBackpropFilter", { x: t.x, dy: t.dy }, {
      ...attrs,
      filterShape: [3, 3, k.x[3], k.out],
    }) as tf.Tensor,
  ];
  const results = outs.map((o) => o.dataSync() as Float32Array);
  tf.dispose([...Object.values(t), ...outs]);
  return results;
}

/** The three results by the Winograd functions themselves (undefined: not taken). */
function winograd(k: Case, v: Values, activation: "relu" | "linear") {
  const t = tensors(k, v);
  const backend = tf.backend();
  const i = info(k);
  const read = (out: tf.TensorInfo | undefined) => {
    if (out === undefined) return undefined;
    const tensor = tf.engine().makeTensorFromTensorInfo(out);
    const data = tensor.dataSync() as Float32Array;
    tensor.dispose();
    return data;
  };
  const results = [
    read(winogradForward(backend, t.x, t.filter, t.bias, i, activation)),
    read(winogradInputGradient(backend, t.dy, t.filter, i)),
    read(winogradFilterGradient(backend, t.x, t.dy, i)),
  ];
  tf.dispose(Object.values(t));
  return results;
}

const label = (k: Case) => `x ${k.x} → ${k.out} ${JSON.stringify(k.pad)}`;
const NAMES = ["forward", "input gradient", "filter gradient"];

Deno.test("Winograd's forward, input and filter gradients match cpu", async (t) => {
  for (const [c, k] of CASES.entries()) {
    for (const activation of ["relu", "linear"] as const) {
      await t.step(`${label(k)} ${activation}`, async () => {
        const v = values(k, 10 + 4 * c);
        await useBackend("cpu");
        const expected = registered(k, v, activation);
        await useBackend("wasm");
        const ours = winograd(k, v, activation);
        const taken = registered(k, v, activation);
        for (const [n, name] of NAMES.entries()) {
          const result = ours[n];
          if (n === 2 && !gradientTaken(k)) {
            assert.equal(result, undefined, `${name}: not taken`);
            continue;
          }
          assert.ok(result !== undefined, `${name}: taken`);
          assertClose(result, expected[n], `${label(k)} ${name}`);
          // The registered kernel runs the same path: the same bytes.
          assertSameBytes(taken[n], result, `${label(k)} ${name}: the registered kernel`);
        }
      });
    }
  }
});

Deno.test("F(2×2, 3×3) in place of F(4×4, 3×3) matches cpu too, where the larger tiles run", async () => {
  const previous = setWinogradLargeTiles(false);
  try {
    for (const [c, k] of CASES.entries()) {
      if (Math.min(info(k).outHeight, info(k).outWidth) < 8) continue;
      const v = values(k, 200 + c);
      await useBackend("cpu");
      const expected = registered(k, v, "relu");
      await useBackend("wasm");
      const ours = winograd(k, v, "relu");
      for (const n of [0, 1]) assertClose(ours[n]!, expected[n], `${label(k)} ${NAMES[n]}`);
    }
  } finally {
    setWinogradLargeTiles(previous);
  }
});

Deno.test("Winograd's ReLU keeps cpu's zeros", async () => {
  const k = CASES[2];
  const v = values(k, 77);
  await useBackend("cpu");
  const [expected] = registered(k, v, "relu");
  await useBackend("wasm");
  const [ours] = winograd(k, v, "relu");
  assert.ok(ours !== undefined);
  const zeros = (a: Float32Array) => a.reduce((n, x) => n + (x === 0 ? 1 : 0), 0);
  assert.ok(zeros(expected) > 0);
  assert.equal(zeros(ours), zeros(expected));
});

Deno.test("the Winograd path's rule: 3×3, stride 1, no dilation, 4×4 outputs, 8 channels", () => {
  const at = (x: Shape4, f: Shape4, stride = 1, dilation = 1) =>
    winogradSupports(tf.backend_util.computeConv2DInfo(x, f, stride, dilation, "same"));
  assert.equal(WINOGRAD_MIN_CHANNELS, 8);
  assert.ok(at([8, 32, 32, 64], [3, 3, 64, 64]), "ResNet-18's 3×3 layers");
  assert.ok(at([64, 16, 16, 16], [3, 3, 16, 32]), "compact-cnn's second layer");
  assert.ok(!at([64, 32, 32, 3], [3, 3, 3, 16]), "3 input channels");
  assert.ok(!at([64, 32, 32, 16], [3, 3, 16, 4]), "4 output channels");
  assert.ok(!at([8, 32, 32, 64], [3, 3, 64, 64], 2), "stride 2");
  assert.ok(!at([8, 32, 32, 64], [3, 3, 64, 64], 1, 2), "dilated");
  assert.ok(!at([8, 32, 32, 64], [5, 5, 64, 64]), "5×5");
  assert.ok(!at([8, 1, 8, 64], [3, 3, 64, 64]), "a one-row output");
  assert.ok(!at([8, 3, 8, 64], [3, 3, 64, 64]), "a 3-row output");
  assert.ok(at([8, 4, 4, 64], [3, 3, 64, 64]), "a 4×4 output");
  assert.equal(GRADIENT_MIN_SIDE, 4);
  assert.equal(GRADIENT_MIN_CHANNEL_PRODUCT, 256);
  assert.ok(CASES.filter(gradientTaken).length >= 4, "the filter gradient's cases");
  const previous = setWinograd(false);
  try {
    assert.ok(!at([8, 32, 32, 64], [3, 3, 64, 64]), "turned off");
  } finally {
    setWinograd(previous);
  }
});

Deno.test("the Winograd kernels leave no buffer behind", async () => {
  await useBackend("wasm");
  const before = tf.backend().numDataIds();
  for (const [c, k] of CASES.slice(0, 3).entries()) {
    const v = values(k, 50 + c);
    winograd(k, v, "relu");
    registered(k, v, "linear");
  }
  assert.equal(tf.backend().numDataIds(), before);
});

Deno.test({
  name: "the Winograd kernels on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const cases = [CASES[0], CASES[1], CASES[2], CASES[4], CASES[7], CASES[9], CASES[10]];
    const inputs = cases.map((k, i) => values(k, 90 + 4 * i));
    const all = async () => {
      await useBackend("wasm");
      return cases.map((k, i) => winograd(k, inputs[i], "relu"));
    };
    const { byThreads, one } = await resultsOnThreads(
      SOURCE,
      all,
      (threads, calls) =>
        assert.ok(calls >= cases.length * (threads - 1), `${threads} threads: ${calls} calls`),
    );
    for (const [i, k] of cases.entries()) {
      for (const [n, name] of NAMES.entries()) {
        const single = one[i][n];
        if (single === undefined) continue;
        for (const [threads, results] of byThreads) {
          assertSameBytes(results[i][n]!, single, `${label(k)} ${name}: ${threads} threads and 1`);
        }
      }
    }
  },
});
