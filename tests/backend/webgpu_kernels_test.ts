// Our WebGPU kernels (lib/backend/webgpu_kernels.ts) against the cpu backend, on odd shapes:
// stride 2, same and valid padding (padding on one side), batch 1, channel counts that are not
// multiples of 4, 1×1 to 7×7 filters. The convolution forward (each fused activation), filter
// gradient (register tiles of 1, 2 and 4 vec4 columns, split over pixel rows, and the tiled
// program kept for other layers) and input gradient (ours, or tfjs's two programs); the depthwise
// filter and input gradients on scalar and vec4 channel groups and on the stock fallback. Batch
// norm's training kernels against the wasm ones (which tests/backend/batch_norm_train_test.ts
// holds to tfjs' ops), each activation, and the moving averages' update.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import { filterGradientSplits } from "../../lib/backend/_webgpu_kernels/conv2d_backprop_filter.ts";
import { adapterLine, gpuAdapter } from "./_parity_cases.ts";
import { assertClose } from "./_assert.ts";

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "same" | "valid";
}

const CASES: Case[] = [
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 5], stride: 2, pad: "same" },
  { x: [1, 8, 7, 6], filter: [3, 3, 6, 7], stride: 1, pad: "valid" },
  { x: [3, 6, 6, 33], filter: [1, 1, 33, 17], stride: 1, pad: "same" },
  { x: [1, 15, 15, 3], filter: [7, 7, 3, 10], stride: 2, pad: "same" },
  { x: [4, 32, 32, 16], filter: [1, 1, 16, 24], stride: 1, pad: "same" }, // split-K
  { x: [2, 10, 10, 40], filter: [3, 3, 40, 36], stride: 2, pad: "valid" }, // several tiles
  // Output channels a multiple of 4: the register-tiled GEMM, with x read as scalars (Cin 3)
  // or as vec4s, split over pixel rows or not.
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 8], stride: 2, pad: "same" },
  { x: [1, 15, 15, 3], filter: [7, 7, 3, 12], stride: 2, pad: "same" },
  { x: [1, 8, 7, 12], filter: [3, 3, 12, 8], stride: 1, pad: "valid" },
  { x: [2, 8, 8, 16], filter: [3, 3, 16, 16], stride: 2, pad: "same" },
];

/** dy's shape for case `c`: the output of its convolution (depthwise or not), on cpu. */
function dyShapeOf(c: Case, depthwise = false): number[] {
  return tf.tidy(() => {
    const [x, filter] = [tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D];
    return (depthwise ? tf.depthwiseConv2d : tf.conv2d)(x, filter, c.stride, c.pad).shape;
  });
}

function values(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, "float32", seed).dataSync() as Float32Array)
    .slice();
}

async function filterGradient(c: Case, x: Float32Array, dy: Float32Array, dyShape: number[]) {
  const result = tf.engine().runKernel("Conv2DBackpropFilter", {
    x: tf.tensor4d(x, c.x),
    dy: tf.tensor(dy, dyShape),
  }, { strides: [c.stride, c.stride], pad: c.pad, dataFormat: "NHWC", filterShape: c.filter });
  const out = await (result as tf.Tensor).data() as Float32Array;
  return { shape: (result as tf.Tensor).shape, values: out };
}

/** A kernel's result: its shape and values. */
interface Result {
  shape: number[];
  values: Float32Array;
}

/**
 * Registers a test that runs a kernel on each case on cpu, then on webgpu (ours), with the same
 * inputs (`prepare` makes them on cpu), and holds the shapes equal to `shapeOf(case)` and the
 * values within 1e-5.
 */
function testAgainstCpu<T>(
  name: string,
  cases: Case[],
  prepare: (c: Case, i: number) => T,
  run: (c: Case, inputs: T) => Promise<Result>,
  shapeOf: (c: Case) => number[],
): void {
  Deno.test({
    name: `webgpu ${name} = cpu on odd shapes, on ${adapterLine}`,
    ignore: gpuAdapter == null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      for (const [i, c] of cases.entries()) {
        await useBackend("cpu");
        const inputs = prepare(c, i);
        const expected = await run(c, inputs);
        await useBackend("webgpu");
        const actual = await run(c, inputs);
        assert.deepEqual(actual.shape, shapeOf(c));
        assertClose(actual.values, expected.values, `case ${i} (${JSON.stringify(c)})`, 1e-5);
      }
    },
  });
}

Deno.test("filterGradientSplits: split-K only when the tiles are few and P is long", () => {
  assert.equal(filterGradientSplits(9 * 512, 512, 64), 1); // many tiles, short P
  assert.equal(filterGradientSplits(16, 24, 4096), 32); // one tile, 128 slices of P: 4 each
  assert.equal(filterGradientSplits(16, 24, 100), 1); // too short to split
});

testAgainstCpu(
  "Conv2DBackpropFilter (ours)",
  CASES,
  (c, i) => {
    const dyShape = dyShapeOf(c);
    return { x: values(c.x, 10 + i), dy: values(dyShape, 20 + i), dyShape };
  },
  (c, { x, dy, dyShape }) => filterGradient(c, x, dy, dyShape),
  (c) => c.filter,
);

const DEPTHWISE: Case[] = [
  { x: [2, 9, 9, 5], filter: [3, 3, 5, 1], stride: 2, pad: "same" },
  { x: [1, 8, 7, 70], filter: [3, 3, 70, 1], stride: 1, pad: "valid" },
  { x: [2, 9, 9, 12], filter: [3, 3, 12, 1], stride: 2, pad: "same" }, // vec4 channel groups
  { x: [8, 16, 16, 32], filter: [3, 3, 32, 1], stride: 1, pad: "same" }, // vec4, split rows
  { x: [2, 8, 8, 16], filter: [3, 3, 16, 1], stride: 2, pad: "same" }, // pad on one side
  { x: [3, 12, 12, 7], filter: [5, 5, 7, 1], stride: 1, pad: "same" },
  { x: [8, 32, 32, 6], filter: [3, 3, 6, 1], stride: 1, pad: "same" }, // split over pixels
  { x: [2, 6, 6, 3], filter: [3, 3, 3, 2], stride: 1, pad: "same" }, // multiplier 2: stock
];

async function depthwiseFilterGradient(
  c: Case,
  x: Float32Array,
  dy: Float32Array,
  dyShape: number[],
) {
  const result = tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", {
    x: tf.tensor4d(x, c.x),
    dy: tf.tensor(dy, dyShape),
  }, {
    strides: [c.stride, c.stride],
    dilations: [1, 1],
    pad: c.pad,
    filterShape: c.filter,
  }) as tf.Tensor;
  return { shape: result.shape, values: await result.data() as Float32Array };
}

testAgainstCpu(
  "DepthwiseConv2dNativeBackpropFilter (ours)",
  DEPTHWISE,
  (c, i) => {
    const dyShape = dyShapeOf(c, true);
    return { x: values(c.x, 30 + i), dy: values(dyShape, 40 + i), dyShape };
  },
  (c, { x, dy, dyShape }) => depthwiseFilterGradient(c, x, dy, dyShape),
  (c) => c.filter,
);

/** conv2d (fused with bias and `activation` when one is given) on the current backend. */
async function forward(
  c: Case,
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array,
  activation: "linear" | "relu" | "relu6" | "elu" | undefined,
) {
  const result = tf.tidy(() => {
    const xs = tf.tensor4d(x, c.x);
    const w = tf.tensor4d(filter, c.filter);
    if (activation === undefined) return tf.conv2d(xs, w, c.stride, c.pad);
    return tf.fused.conv2d({
      x: xs,
      filter: w,
      strides: c.stride,
      pad: c.pad,
      bias: tf.tensor1d(bias),
      activation,
    });
  });
  const out = await result.data() as Float32Array;
  result.dispose();
  return { shape: result.shape, values: out };
}

Deno.test({
  name:
    `webgpu Conv2D and FusedConv2D (ours) = cpu on odd shapes, each activation, on ${adapterLine}`,
  ignore: gpuAdapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const activations = [undefined, "linear", "relu", "relu6", "elu"] as const; // elu: stock
    for (const [i, c] of CASES.entries()) {
      const x = values(c.x, 80 + i);
      const filter = values(c.filter, 90 + i);
      const bias = values([c.filter[3]], 100 + i);
      for (const activation of activations) {
        await useBackend("cpu");
        const expected = await forward(c, x, filter, bias, activation);
        await useBackend("webgpu");
        const actual = await forward(c, x, filter, bias, activation);
        assert.deepEqual(actual.shape, expected.shape);
        const label = `case ${i} (${JSON.stringify(c)}), ${activation ?? "conv2d"}`;
        assertClose(actual.values, expected.values, label, 1e-5);
      }
    }
  },
});

async function depthwiseInputGradient(
  c: Case,
  dy: Float32Array,
  filter: Float32Array,
  dyShape: number[],
) {
  const result = tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
    dy: tf.tensor(dy, dyShape),
    filter: tf.tensor4d(filter, c.filter),
  }, {
    strides: [c.stride, c.stride],
    dilations: [1, 1],
    pad: c.pad,
    inputShape: c.x,
  }) as tf.Tensor;
  return { shape: result.shape, values: await result.data() as Float32Array };
}

testAgainstCpu(
  "DepthwiseConv2dNativeBackpropInput (ours)",
  DEPTHWISE,
  (c, i) => {
    const dyShape = dyShapeOf(c, true);
    return { dy: values(dyShape, 110 + i), filter: values(c.filter, 120 + i), dyShape };
  },
  (c, { dy, filter, dyShape }) => depthwiseInputGradient(c, dy, filter, dyShape),
  (c) => c.x,
);

testAgainstCpu(
  "DepthwiseConv2dNative (ours)",
  DEPTHWISE,
  (c, i) => ({ x: values(c.x, 140 + i), filter: values(c.filter, 150 + i) }),
  async (c, { x, filter }) => {
    const result = tf.depthwiseConv2d(
      tf.tensor4d(x, c.x),
      tf.tensor4d(filter, c.filter),
      c.stride,
      c.pad,
    );
    return { shape: result.shape, values: await result.data() as Float32Array };
  },
  (c) => dyShapeOf(c, true),
);

const INPUT_GRADIENT: Case[] = [
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 5], stride: 2, pad: "same" }, // direct
  { x: [1, 8, 7, 33], filter: [3, 3, 33, 7], stride: 1, pad: "valid" }, // GEMM, odd channels
  { x: [3, 6, 6, 64], filter: [1, 1, 64, 17], stride: 1, pad: "same" },
  { x: [2, 11, 11, 40], filter: [3, 3, 40, 36], stride: 2, pad: "same" }, // register GEMM
  { x: [1, 8, 7, 12], filter: [3, 3, 12, 8], stride: 1, pad: "valid" },
  { x: [3, 6, 6, 64], filter: [1, 1, 64, 20], stride: 1, pad: "same" },
  { x: [2, 9, 9, 8], filter: [3, 3, 8, 12], stride: 2, pad: "valid" },
  { x: [2, 8, 8, 16], filter: [3, 3, 16, 16], stride: 2, pad: "same" }, // pad on one side
];

async function inputGradient(c: Case, dy: Float32Array, filter: Float32Array, dyShape: number[]) {
  const result = tf.engine().runKernel("Conv2DBackpropInput", {
    dy: tf.tensor(dy, dyShape),
    filter: tf.tensor4d(filter, c.filter),
  }, {
    strides: [c.stride, c.stride],
    pad: c.pad,
    dataFormat: "NHWC",
    inputShape: c.x,
  }) as tf.Tensor;
  return { shape: result.shape, values: await result.data() as Float32Array };
}

testAgainstCpu(
  "Conv2DBackpropInput (ours: our GEMM, or tfjs's direct or GEMM program by channels)",
  INPUT_GRADIENT,
  (c, i) => {
    const dyShape = dyShapeOf(c);
    return { dy: values(dyShape, 50 + i), filter: values(c.filter, 60 + i), dyShape };
  },
  (c, { dy, filter, dyShape }) => inputGradient(c, dy, filter, dyShape),
  (c) => c.x,
);

const BATCH_NORM_SHAPES: [number, number, number, number][] = [
  [2, 5, 5, 7],
  [3, 4, 4, 70], // two workgroups of channels
  [1, 1, 1, 9], // one pixel
  [4, 9, 9, 12], // vec4 channel groups, the pixels in splits
  [8, 16, 16, 32], // many splits
];

/** Batch norm's training pass and gradient (and add + ReLU's gradient) on `backend`. */
async function batchNormKernels(
  backend: "wasm" | "webgpu",
  shape: number[],
  activation: boolean,
  cap: number,
) {
  await useBackend(backend);
  const channels = shape[3];
  const x = tf.tensor(values(shape, 70), shape);
  const dy = tf.tensor(values(shape, 71), shape);
  const b = tf.tensor(values(shape, 72), shape);
  const gamma = tf.tensor(values([channels], 73));
  const beta = tf.tensor(values([channels], 74));
  const attrs = { epsilon: 1e-3, activation, cap };
  const [y, mean, variance, invStd] = tf.engine().runKernel(
    "DenovisionBatchNormTrain",
    { x, gamma, beta },
    attrs as never,
  ) as tf.Tensor[];
  const grads = tf.engine().runKernel(
    "DenovisionBatchNormTrainGrad",
    { dy, x, mean, invStd, gamma, beta },
    attrs as never,
  ) as tf.Tensor[];
  const addGrad = tf.engine().runKernel("DenovisionAddReluGrad", { dy, a: x, b }, {
    activation: true,
    cap,
  }) as tf.Tensor;
  const outputs = [y, mean, variance, invStd, ...grads, addGrad];
  const read = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...outputs, x, dy, b, gamma, beta]);
  return read;
}

Deno.test({
  name: `webgpu batch norm training kernels (ours) = wasm's, on ${adapterLine}`,
  ignore: gpuAdapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const names = ["y", "mean", "variance", "invStd", "dx", "dGamma", "dBeta", "add+relu grad"];
    for (const shape of BATCH_NORM_SHAPES) {
      for (const [activation, cap] of [[false, Infinity], [true, Infinity], [true, 6]] as const) {
        const expected = await batchNormKernels("wasm", shape, activation, cap);
        const actual = await batchNormKernels("webgpu", shape, activation, cap);
        expected.forEach((want, i) =>
          assertClose(
            actual[i],
            want,
            `${names[i]} of ${shape}, activation ${activation} cap ${cap}`,
          )
        );
      }
    }
  },
});

Deno.test({
  name: `webgpu moving averages' update (ours) = tfjs-layers' formula, on ${adapterLine}`,
  ignore: gpuAdapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const [mean, variance, movingMean, movingVariance] = [81, 82, 83, 84].map((seed) =>
      tf.tensor1d(values([37], seed))
    );
    const momentum = 0.9;
    const [newMean, newVariance] = tf.engine().runKernel("DenovisionMovingAverages", {
      mean,
      variance,
      movingMean,
      movingVariance,
    }, { momentum } as never) as tf.Tensor[];
    const expect = (moving: tf.Tensor, batch: tf.Tensor) =>
      tf.sub(moving, tf.mul(tf.sub(moving, batch), 1 - momentum));
    assertClose(await newMean.data(), await expect(movingMean, mean).data(), "mean", 1e-6);
    assertClose(
      await newVariance.data(),
      await expect(movingVariance, variance).data(),
      "variance",
      1e-6,
    );
  },
});

Deno.test({
  name:
    `webgpu: a repeated step writes no uniforms again (ours keep them by content), on ${adapterLine}`,
  ignore: gpuAdapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const x = tf.tensor4d(values([2, 9, 9, 8], 130), [2, 9, 9, 8]);
    const w = tf.tensor4d(values([3, 3, 8, 12], 131), [3, 3, 8, 12]);
    const run = () =>
      tf.tidy(() =>
        tf.grad((input: tf.Tensor) => tf.conv2d(input as tf.Tensor4D, w, 2, "same"))(x)
      );
    const first = await run().data();
    const queue = GPUQueue.prototype;
    const write = queue.writeBuffer;
    let writes = 0;
    queue.writeBuffer = function (this: GPUQueue, ...args: Parameters<GPUQueue["writeBuffer"]>) {
      writes++;
      return write.apply(this, args);
    };
    let second: Float32Array;
    try {
      second = await run().data() as Float32Array;
    } finally {
      queue.writeBuffer = write;
    }
    assert.equal(writes, 0);
    assertClose(second, first, "the same gradient from the kept uniforms", 0);
    tf.dispose([x, w]);
  },
});
