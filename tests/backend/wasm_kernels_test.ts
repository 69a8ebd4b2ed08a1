// Each custom wasm kernel against tfjs-backend-cpu: relative error ≤ 1e-4 over odd shapes,
// strides 1 and 2 (and 3), `same`, `valid` and explicit padding, and dilation for depthwise.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { useBackend, WASM_TRAINING_KERNELS, wasmFeatures } from "../../mod.ts";
import {
  SIMD_FILTER_GRADIENT_LIMIT,
  simdFilterGradient,
  SOURCE as FILTER_GRADIENT_SOURCE,
} from "../../lib/backend/_wasm_simd/conv2d_filter_grad.ts";

import { setWinograd } from "../../lib/backend/_wasm_simd/winograd.ts";
// This file tests the direct SIMD kernels: 3×3, stride-1 layers would take the Winograd path
// (winograd_test.ts tests it), so it is off here.
setWinograd(false);

type Pad = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];
type Values = number[] | number[][][][];
type Shape4 = [number, number, number, number];

/** Runs `body` on a backend and returns the result's values and shape; no tensor survives. */
async function on(backend: "cpu" | "wasm", body: () => tf.Tensor) {
  await useBackend(backend);
  const result = tf.tidy(body);
  const values = result.dataSync().slice();
  const shape = result.shape;
  result.dispose();
  return { values, shape };
}

function random(shape: number[], seed: number): number[][][][] {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", seed).arraySync() as number[][][][]);
}

function runKernel(name: string, inputs: Record<string, Values>, attrs: object): tf.Tensor {
  const tensors: tf.NamedTensorMap = {};
  for (const [key, value] of Object.entries(inputs)) tensors[key] = tf.tensor(value);
  return tf.engine().runKernel(name, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
}

/** The forward convolution's output shape, computed on cpu. */
async function conv2dOutShape(x: Shape4, filter: Shape4, stride: number, pad: Pad) {
  await useBackend("cpu");
  return tf.tidy(() =>
    tf.conv2d(tf.zeros(x) as tf.Tensor4D, tf.zeros(filter) as tf.Tensor4D, stride, pad).shape
  );
}

const CONV_CASES: { x: Shape4; k: [number, number]; stride: number; pad: Pad }[] = [
  { x: [3, 9, 11, 4], k: [3, 5], stride: 1, pad: "same" },
  { x: [3, 9, 11, 4], k: [3, 5], stride: 1, pad: "valid" },
  { x: [2, 13, 7, 3], k: [3, 3], stride: 2, pad: "same" },
  { x: [2, 13, 7, 3], k: [4, 2], stride: 2, pad: "valid" },
  { x: [1, 10, 10, 1], k: [5, 5], stride: 3, pad: "valid" },
  { x: [2, 8, 9, 2], k: [3, 3], stride: 2, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  // ResNet's strided shapes: a 3×3 `same` and a 1×1 projection (half its phases get no tap).
  { x: [2, 8, 8, 3], k: [3, 3], stride: 2, pad: "same" },
  { x: [2, 8, 8, 5], k: [1, 1], stride: 2, pad: "valid" },
];

Deno.test("the wasm backend has every training kernel registered", async () => {
  await useBackend("wasm");
  for (const name of WASM_TRAINING_KERNELS) {
    assert.ok(tf.getKernel(name, "wasm"), `${name} missing`);
  }
});

Deno.test("Conv2DBackpropFilter on wasm matches cpu: our SIMD kernel and the XNNPACK path", async (t) => {
  // Output channels: 5 and 13 (dy read in place, the last vector overlapping), 16 and 32 (whole
  // tiles of 16), 1 and 3 (dy padded: fewer than 4), 10, 18 and 20 (LeNet-like), 17 (a last block
  // of 1 channel: padded); one layer above SIMD_FILTER_GRADIENT_LIMIT runs the XNNPACK path.
  const cases = [
    ...CONV_CASES.map((c) => ({ ...c, out: 5 })),
    ...CONV_CASES.slice(0, 4).map((c, i) => ({ ...c, out: [13, 16, 32, 12][i] })),
    ...CONV_CASES.slice(0, 6).map((c, i) => ({ ...c, out: [1, 3, 10, 17, 18, 20][i] })),
    {
      x: [1, 3, 3, 288] as Shape4,
      k: [3, 3] as [number, number],
      stride: 1,
      pad: "same" as Pad,
      out: 1000,
    },
  ];
  // The SIMD kernel is there on this engine (else every case would test the XNNPACK path).
  await useBackend("wasm");
  const [ones, onesDy] = [tf.ones([1, 4, 4, 2]), tf.ones([1, 4, 4, 4])];
  const probe = simdFilterGradient(
    tf.backend(),
    ones,
    onesDy,
    tf.backend_util.computeConv2DInfo([1, 4, 4, 2], [3, 3, 2, 4], 1, 1, "same"),
  );
  assert.ok(probe !== undefined, "our SIMD filter gradient runs on this engine");
  tf.backend().disposeData(probe.dataId);
  tf.dispose([ones, onesDy]);
  for (const { x, k, stride, pad, out } of cases) {
    const filterShape: Shape4 = [k[0], k[1], x[3], out];
    assert.equal(
      k[0] * k[1] * x[3] * out > SIMD_FILTER_GRADIENT_LIMIT,
      out === 1000,
      "every case but the last is a SIMD one",
    );
    const label = `x=${x} k=${k} stride=${stride} pad=${JSON.stringify(pad)}`;
    await t.step(label, async () => {
      const outShape = await conv2dOutShape(x, filterShape, stride, pad);
      const inputs = { x: random(x, 1), dy: random(outShape, 2) };
      const attrs = { strides: [stride, stride], pad, dataFormat: "NHWC", filterShape };
      const expected = await on("cpu", () => runKernel("Conv2DBackpropFilter", inputs, attrs));
      const actual = await on("wasm", () => runKernel("Conv2DBackpropFilter", inputs, attrs));
      assert.deepEqual(actual.shape, filterShape);
      assertClose(actual.values, expected.values, label);
    });
  }
});

Deno.test({
  name:
    "Conv2DBackpropFilter's SIMD kernel on 2 and 3 threads (a pool of helpers) = cpu, = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const cases = [
      ...CONV_CASES.slice(0, 4).map((c, i) => ({ ...c, out: [13, 16, 32, 7][i] })),
      // compact-cnn's second layer, a batch of 4.
      {
        x: [4, 16, 16, 16] as Shape4,
        k: [3, 3] as [number, number],
        stride: 1,
        pad: "same" as Pad,
        out: 32,
      },
    ];
    const runs = cases.map(({ x, k, stride, pad, out }, i) => {
      const filterShape: Shape4 = [k[0], k[1], x[3], out];
      const attrs = { strides: [stride, stride], pad, dataFormat: "NHWC", filterShape };
      return { x, filterShape, stride, pad, attrs, seed: 10 + 2 * i };
    });
    const inputs: Record<"x" | "dy", Values>[] = [];
    for (const { x, filterShape, stride, pad, seed } of runs) {
      const outShape = await conv2dOutShape(x, filterShape, stride, pad);
      inputs.push({ x: random(x, seed), dy: random(outShape, seed + 1) });
    }
    const expected: { values: ArrayLike<number> }[] = [];
    for (const [i, { attrs }] of runs.entries()) {
      expected.push(await on("cpu", () => runKernel("Conv2DBackpropFilter", inputs[i], attrs)));
    }
    const all = async () => {
      const results: Float32Array[] = [];
      for (const [i, { attrs }] of runs.entries()) {
        const { values } = await on(
          "wasm",
          () => runKernel("Conv2DBackpropFilter", inputs[i], attrs),
        );
        results.push(values as Float32Array);
      }
      return results;
    };
    const { byThreads, one } = await resultsOnThreads(
      FILTER_GRADIENT_SOURCE,
      all,
      (threads, calls) =>
        // One call a run, and one more where dy's channels are padded (also split by rows).
        assert.ok(
          calls >= runs.length * (threads - 1) && calls % (threads - 1) === 0,
          `${threads} threads: the helpers took every part (${calls} calls)`,
        ),
    );
    for (const [i, { x, filterShape }] of runs.entries()) {
      const label = `x=${x} filter=${filterShape}`;
      assertClose(one[i], expected[i].values, label);
      for (const [threads, results] of byThreads) {
        assertSameBytes(results[i], one[i], `${label}: ${threads} threads and 1`);
      }
    }
  },
});

Deno.test("depthwise gradients on wasm match cpu (multipliers 1 and 2)", async (t) => {
  for (const { x, k, stride, pad } of CONV_CASES) {
    for (const multiplier of [1, 2]) {
      const filterShape: Shape4 = [k[0], k[1], x[3], multiplier];
      const label = `x=${x} k=${k} stride=${stride} pad=${JSON.stringify(pad)} m=${multiplier}`;
      await t.step(label, async () => {
        await useBackend("cpu");
        const outShape = tf.tidy(() =>
          tf.depthwiseConv2d(
            tf.zeros(x) as tf.Tensor4D,
            tf.zeros(filterShape) as tf.Tensor4D,
            stride,
            pad,
          ).shape
        );
        const xs = random(x, 3);
        const filter = random(filterShape, 4);
        const dy = random(outShape, 5);
        const common = { strides: [stride, stride], pad, dilations: [1, 1] };
        for (
          const [name, inputs, attrs] of [
            ["DepthwiseConv2dNativeBackpropFilter", { x: xs, dy }, { ...common, filterShape }],
            ["DepthwiseConv2dNativeBackpropInput", { dy, filter }, { ...common, inputShape: x }],
          ] as const
        ) {
          const expected = await on("cpu", () => runKernel(name, inputs, attrs));
          const actual = await on("wasm", () => runKernel(name, inputs, attrs));
          assert.deepEqual(actual.shape, expected.shape);
          assertClose(actual.values, expected.values, `${name} ${label}`);
        }
      });
    }
  }
});

/** Spreads a [kh, kw, C, M] filter by `dilation`, filling the gaps with zeros. */
function dilateFilter(filter: number[][][][], dilation: number): number[][][][] {
  const [kh, kw] = [filter.length, filter[0].length];
  const [channels, multiplier] = [filter[0][0].length, filter[0][0][0].length];
  const height = (kh - 1) * dilation + 1;
  const width = (kw - 1) * dilation + 1;
  const zeros = () => Array.from({ length: channels }, () => new Array(multiplier).fill(0));
  const out = Array.from({ length: height }, () => Array.from({ length: width }, zeros));
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) out[a * dilation][b * dilation] = filter[a][b];
  }
  return out;
}

// tfjs-backend-cpu's depthwise gradients ignore `dilations` (tfjs never asks for them, its
// gradient asserts dilation 1). A dilated convolution equals an undilated one with a
// zero-spread filter, so that problem on cpu is the reference here.
Deno.test("depthwise gradients on wasm honour dilation", async (t) => {
  const x: Shape4 = [2, 11, 12, 3];
  for (const pad of ["same", "valid"] as const) {
    for (const multiplier of [1, 2]) {
      await t.step(`dilation 2 pad=${pad} m=${multiplier}`, async () => {
        const dilation = 2;
        const filter = random([3, 3, 3, multiplier], 6);
        const spread = dilateFilter(filter, dilation);
        const spreadShape: Shape4 = [spread.length, spread[0].length, 3, multiplier];
        await useBackend("cpu");
        const outShape = tf.tidy(() =>
          tf.depthwiseConv2d(tf.zeros(x) as tf.Tensor4D, tf.tensor4d(spread), 1, pad).shape
        );
        const xs = random(x, 7);
        const dy = random(outShape, 8);
        const undilated = { strides: [1, 1], pad, dilations: [1, 1] };
        const dilated = { strides: [1, 1], pad, dilations: [dilation, dilation] };

        const expectedInput = await on(
          "cpu",
          () =>
            runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter: spread }, {
              ...undilated,
              inputShape: x,
            }),
        );
        const actualInput = await on(
          "wasm",
          () =>
            runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter }, {
              ...dilated,
              inputShape: x,
            }),
        );
        assertClose(actualInput.values, expectedInput.values, "backprop input");

        const expectedFilter = await on("cpu", () =>
          tf.stridedSlice(
            runKernel("DepthwiseConv2dNativeBackpropFilter", { x: xs, dy }, {
              ...undilated,
              filterShape: spreadShape,
            }),
            [0, 0, 0, 0],
            spreadShape,
            [dilation, dilation, 1, 1],
          ));
        const actualFilter = await on(
          "wasm",
          () =>
            runKernel("DepthwiseConv2dNativeBackpropFilter", { x: xs, dy }, {
              ...dilated,
              filterShape: [3, 3, 3, multiplier],
            }),
        );
        assertClose(actualFilter.values, expectedFilter.values, "backprop filter");
      });
    }
  }
});

Deno.test("custom wasm kernels free every intermediate buffer", async () => {
  await useBackend("wasm");
  const backend = tf.backend();
  const x = tf.randomNormal([2, 9, 9, 3]);
  const filter = tf.randomNormal([3, 3, 3, 2]);
  const before = backend.numDataIds();
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.add(
          tf.sum(
            tf.conv2d(a as tf.Tensor4D, tf.reshape(b, [3, 3, 3, 2]) as tf.Tensor4D, 2, "same"),
          ),
          tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")),
        )
      );
      grads([x, filter]);
    });
  }
  assert.equal(backend.numDataIds(), before);
  tf.dispose([x, filter]);
});

Deno.test("Conv2DBackpropInput on wasm (ours, replacing the built-in) matches cpu", async (t) => {
  for (const { x, k, stride, pad } of CONV_CASES) {
    const filterShape: Shape4 = [k[0], k[1], x[3], 5];
    const label = `x=${x} k=${k} stride=${stride} pad=${JSON.stringify(pad)}`;
    await t.step(label, async () => {
      const outShape = await conv2dOutShape(x, filterShape, stride, pad);
      const inputs = { dy: random(outShape, 9), filter: random(filterShape, 10) };
      const attrs = { strides: [stride, stride], pad, dataFormat: "NHWC", inputShape: x };
      const expected = await on("cpu", () => runKernel("Conv2DBackpropInput", inputs, attrs));
      const actual = await on("wasm", () => runKernel("Conv2DBackpropInput", inputs, attrs));
      assert.deepEqual(actual.shape, x);
      assertClose(actual.values, expected.values, label);
    });
  }
});

Deno.test("MaxPoolGrad on wasm (ours) matches cpu, ties and all-negative windows included", async (t) => {
  const cases: { x: Shape4; size: [number, number]; stride: number; pad: "same" | "valid" }[] = [
    { x: [2, 8, 8, 3], size: [2, 2], stride: 2, pad: "valid" },
    { x: [2, 9, 7, 3], size: [2, 2], stride: 2, pad: "valid" }, // a row and column left over
    { x: [2, 9, 7, 4], size: [3, 3], stride: 2, pad: "same" },
    { x: [1, 7, 9, 2], size: [3, 2], stride: 1, pad: "valid" },
    { x: [3, 5, 5, 5], size: [2, 2], stride: 1, pad: "same" },
  ];
  for (const [n, { x: shape, size, stride, pad }] of cases.entries()) {
    await t.step(`x=${shape} k=${size} stride=${stride} pad=${pad}`, async () => {
      // Rounded values make ties common; the offset leaves whole windows negative.
      const x = random(shape, 40 + n).map((a) =>
        a.map((b) => b.map((c) => c.map((v) => Math.round(v * 2) / 2 - 0.75)))
      );
      const dy = (s: number[]) => tf.randomNormal(s as Shape4, 0, 1, "float32", 60 + n);
      const grad = () =>
        tf.grad((input: tf.Tensor) => {
          const pooled = tf.maxPool(input as tf.Tensor4D, size, stride, pad);
          return tf.sum(tf.mul(pooled, dy(pooled.shape)));
        })(tf.tensor4d(x));
      const expected = await on("cpu", grad);
      const actual = await on("wasm", grad);
      assert.deepEqual(actual.shape, expected.shape);
      assertClose(actual.values, expected.values, `maxPool grad ${n}`);
    });
  }
});

Deno.test("Reverse on wasm (ours, replacing the built-in) equals cpu's, any rank and axes", async (t) => {
  const cases: { shape: number[]; dims: number[]; dtype: "float32" | "int32" }[] = [
    { shape: [3, 3, 5, 7], dims: [0, 1], dtype: "float32" }, // a filter, as the input gradient
    { shape: [3, 3, 5, 7], dims: [3], dtype: "float32" },
    { shape: [2, 3, 4, 5], dims: [0, 2], dtype: "int32" },
    { shape: [4, 6], dims: [-1], dtype: "float32" },
    { shape: [7], dims: [0], dtype: "int32" },
    { shape: [2, 1, 3], dims: [1], dtype: "float32" }, // a reversed axis of size 1
    { shape: [2, 3, 2, 2, 3], dims: [1, 3], dtype: "float32" },
  ];
  for (const [n, { shape, dims, dtype }] of cases.entries()) {
    await t.step(`shape=${shape} dims=${dims} ${dtype}`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: size }, (_, i) => (i * 37 + n) % 101);
      const flip = () => tf.reverse(tf.tensor(values, shape, dtype), dims);
      const expected = await on("cpu", flip);
      const actual = await on("wasm", flip);
      assert.deepEqual(actual.shape, expected.shape);
      assert.deepEqual(Array.from(actual.values), Array.from(expected.values));
    });
  }
});

Deno.test("Add on wasm: a bias (trailing axes) in either order, and every other broadcast, = cpu", async () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4, 5], [5]],
    [[5], [2, 3, 4, 5]],
    [[2, 3, 4, 5], [1, 4, 5]],
    [[7, 6], [1, 6]],
    [[2, 1, 4, 1], [1, 3, 1, 5]], // not a bias: the built-in kernel
    [[3, 4], [3, 4]],
    [[3, 4], []],
  ];
  for (const [aShape, bShape] of cases) {
    const body = () =>
      tf.add(
        tf.randomNormal(aShape, 0, 1, "float32", 1),
        tf.randomNormal(bShape, 0, 1, "float32", 2),
      );
    const expected = await on("cpu", body);
    const actual = await on("wasm", body);
    assert.deepEqual(actual.shape, expected.shape, `${aShape} + ${bShape}`);
    // One float addition per element on both backends: equal to the bit.
    assert.deepEqual(
      Array.from(actual.values),
      Array.from(expected.values),
      `${aShape} + ${bShape}`,
    );
  }
  await useBackend("wasm");
  const ints = tf.add(
    tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"),
    tf.tensor1d([10, 20], "int32"),
  );
  assert.deepEqual(await ints.array(), [[11, 22], [13, 24]]);
  ints.dispose();
});

Deno.test("Transpose on wasm: training's permutations (fast paths) and every other one = cpu", async () => {
  const cases: [number[], number[]][] = [
    [[3, 5, 4, 7], [3, 1, 2, 0]], // the filter gradient's input: NHWC → CHWN
    [[3, 5, 4, 7], [1, 2, 0, 3]], // its dy, and depthwise's: blocks of C
    [[3, 3, 9, 17], [0, 1, 3, 2]], // the input gradient's filter: in ↔ out channels
    [[13, 11], [1, 0]],
    [[1, 5, 1, 7], [3, 1, 2, 0]], // size-1 axes dropped before matching
    [[2, 3, 4, 5], [0, 1, 2, 3]], // identity
    [[2, 3, 4, 5], [2, 0, 3, 1]], // none of ours: the built-in kernel
    [[2, 3, 4, 5, 6], [4, 1, 2, 3, 0]], // rank 5, merges to NHWC → CHWN's shape
  ];
  for (const [shape, perm] of cases) {
    for (const dtype of ["float32", "int32"] as const) {
      const body = () =>
        tf.transpose(tf.cast(tf.randomUniform(shape, -50, 50, "float32", 3), dtype), perm);
      const expected = await on("cpu", body);
      const actual = await on("wasm", body);
      const label = `${shape} by ${perm} (${dtype})`;
      assert.deepEqual(actual.shape, expected.shape, label);
      assert.deepEqual(Array.from(actual.values), Array.from(expected.values), label);
    }
  }
});

Deno.test("the wasm depthwise filter gradient of a large batch matches cpu (its SIMD kernel; depthwise_filter_grad_test.ts holds the chunked composed path to it)", async () => {
  // dy of 2.2M floats a sample, over CHUNK_FLOATS / 2: one sample a chunk, two partial sums
  // (a 1×1 filter keeps the cpu backend's reference to seconds).
  const x: Shape4 = [2, 128, 128, 136];
  const filterShape: Shape4 = [1, 1, 136, 1];
  const xs = random(x, 6);
  const dy = random([2, 128, 128, 136], 7);
  const attrs = { strides: [1, 1], pad: "same", dilations: [1, 1], filterShape };
  const name = "DepthwiseConv2dNativeBackpropFilter";
  const expected = await on("cpu", () => runKernel(name, { x: xs, dy }, attrs));
  const actual = await on("wasm", () => runKernel(name, { x: xs, dy }, attrs));
  assert.deepEqual(actual.shape, expected.shape);
  assertClose(actual.values, expected.values, "chunked depthwise filter gradient");
});
