// The routed gradients of a convolution + bias + ReLU + 2×2 max pool (pool_routed_grad.ts): the
// filter, input and bias gradients against tfjs-backend-cpu's autodiff of the unfused ops and
// against the dense wasm kernels (the bias's bit for bit), over valid and same padding, channel
// tails, one input channel, ties and all-negative windows; the rule; the same bytes on 1, 2 and
// 3 threads; a LeNet step takes them; a bad dy is refused; no buffer left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createModel, useBackend, wasmFeatures } from "../../mod.ts";
import {
  CONV_RELU_POOL,
  POOL_RELU_BIAS_GRAD,
} from "../../lib/backend/_wasm_kernels/conv_relu_pool.ts";
import {
  POOL_ROUTE,
  ROUTED_FILTER_GRAD,
  ROUTED_INPUT_GRAD,
  routedGradientApplies,
  setRoutedGradients,
  SOURCE,
} from "../../lib/backend/_wasm_kernels/pool_routed_grad.ts";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { random, type Shape4 } from "./_conv_cases.ts";

interface Case {
  x: Shape4;
  filter: Shape4;
  pad: "same" | "valid";
}

const CASES: Case[] = [
  { x: [3, 28, 28, 1], filter: [5, 5, 1, 10], pad: "valid" }, // LeNet's first layer
  { x: [3, 12, 12, 10], filter: [5, 5, 10, 20], pad: "valid" }, // and its second
  { x: [2, 10, 10, 6], filter: [5, 5, 6, 7], pad: "same" }, // a tail of 3 channels, padding
  { x: [2, 10, 12, 2], filter: [5, 3, 2, 4], pad: "same" }, // a 5×3 filter, rows of 6 floats
  { x: [1, 14, 14, 3], filter: [7, 7, 3, 5], pad: "valid" },
  { x: [2, 8, 8, 9], filter: [3, 3, 9, 12], pad: "same" }, // a 3×3 layer (the rule leaves it dense)
];

const label = (k: Case) => `x ${k.x} filter ${k.filter} ${k.pad}`;
const NAMES = ["dx", "dW", "db"] as const;

interface Values {
  x: Float32Array;
  filter: Float32Array;
  bias: Float32Array;
  dy?: Float32Array;
}

function values(k: Case, seed: number): Values {
  return {
    x: random(k.x, seed),
    filter: random(k.filter, seed + 1),
    bias: random([k.filter[3]], seed + 2).map((v) => 0.1 * v),
  };
}

const convAttrs = (k: Case) => ({
  strides: [1, 1],
  pad: k.pad,
  dataFormat: "NHWC",
  dilations: [1, 1],
  activation: "relu",
});

/** The routed kernels on wasm: [dx, dW, db] for dy (the pooled output's gradient, by seed). */
function routed(k: Case, v: Values, seed: number, dense = false): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor(v.x, k.x);
    const filter = tf.tensor(v.filter, k.filter);
    const bias = tf.tensor(v.bias);
    const [pooled, y] = tf.engine().runKernel(
      CONV_RELU_POOL,
      { x, filter, bias },
      convAttrs(k) as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    const dy = v.dy
      ? tf.tensor(v.dy, pooled.shape)
      : tf.tensor(random(pooled.shape, seed), pooled.shape);
    const common = { strides: [1, 1], pad: k.pad, dataFormat: "NHWC" };
    let results: tf.Tensor[];
    if (dense) {
      const [dz, db] = tf.engine().runKernel(POOL_RELU_BIAS_GRAD, { dy, y }, {}) as tf.Tensor[];
      results = [
        tf.engine().runKernel("Conv2DBackpropInput", { dy: dz, filter }, {
          ...common,
          inputShape: k.x,
        }) as tf.Tensor,
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: dz }, {
          ...common,
          filterShape: k.filter,
        }) as tf.Tensor,
        db,
      ];
    } else {
      const gridWidth = (y.shape[2] as number) + k.filter[1] - 1;
      const [g, off, count, db] = tf.engine().runKernel(POOL_ROUTE, { dy, y }, {
        gridWidth,
      }) as tf.Tensor[];
      results = [
        tf.engine().runKernel(ROUTED_INPUT_GRAD, { g, off, count, filter }, {
          ...common,
          inputShape: k.x,
        }) as tf.Tensor,
        tf.engine().runKernel(ROUTED_FILTER_GRAD, { x, g, off, count }, {
          ...common,
          filterShape: k.filter,
        }) as tf.Tensor,
        db,
      ];
    }
    return results.map((t) => t.dataSync() as Float32Array);
  });
}

/** tfjs-backend-cpu's autodiff of conv2d + bias, relu, maxPool: [dx, dW, db]. */
function cpuGradients(k: Case, v: Values, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(v.x, k.x);
    const filter = tf.tensor4d(v.filter, k.filter);
    const bias = tf.tensor1d(v.bias);
    const layer = (a: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) =>
      tf.maxPool(tf.relu(tf.add(tf.conv2d(a, w, 1, k.pad), b)) as tf.Tensor4D, 2, 2, "valid");
    const shape = layer(x, filter, bias).shape;
    const dy = v.dy ? tf.tensor(v.dy, shape) : tf.tensor(random(shape, seed), shape);
    const grads = tf.grads((a, w, b) =>
      layer(a as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D)
    )([x, filter, bias], dy);
    return grads.map((t) => t.dataSync() as Float32Array);
  });
}

Deno.test("routed gradients of conv + bias + ReLU + pool match the cpu backend and the dense kernels", async () => {
  for (const [i, k] of CASES.entries()) {
    const v = values(k, 10 * i);
    await useBackend("cpu");
    const cpu = cpuGradients(k, v, 10 * i + 7);
    await useBackend("wasm");
    const ours = routed(k, v, 10 * i + 7);
    const dense = routed(k, v, 10 * i + 7, true);
    for (const [n, name] of NAMES.entries()) {
      assertClose(ours[n], cpu[n], `${label(k)} ${name} vs cpu`);
      assertClose(ours[n], dense[n], `${label(k)} ${name} vs dense`, 1e-5);
    }
    assertSameBytes(ours[2], dense[2], `${label(k)} db: the same sums`);
  }
});

Deno.test("routed gradients: ties go to the window's first maximum, all-negative windows pass nothing", async () => {
  const k: Case = { x: [2, 12, 12, 2], filter: [5, 5, 2, 6], pad: "valid" };
  // Integer inputs and weights: many exact ties among a window's outputs, many below zero.
  const v = values(k, 3);
  v.x = v.x.map((a) => Math.round(a));
  v.filter = v.filter.map((a) => Math.round(a));
  v.bias = v.bias.map(() => -1);
  await useBackend("wasm");
  const ours = routed(k, v, 9);
  const dense = routed(k, v, 9, true);
  for (const [n, name] of NAMES.entries()) assertClose(ours[n], dense[n], `ties ${name}`, 1e-6);
  assertSameBytes(ours[2], dense[2], "ties db");
  // All-negative: no window passes a gradient.
  v.bias = v.bias.map(() => -1e6);
  for (const t of routed(k, v, 9)) assert.ok(t.every((a) => a === 0), "all zero");
});

Deno.test("the routed gradients' rule: stride 1, 5×5 filters or larger, 4 channels out, rows of 4 floats", async () => {
  await useBackend("wasm");
  const at = (filter: Shape4, strides: [number, number] = [1, 1]) => {
    const x = tf.zeros([1, 12, 12, filter[2]]);
    const w = tf.zeros(filter);
    try {
      return routedGradientApplies(tf.backend(), x, w, strides);
    } finally {
      tf.dispose([x, w]);
    }
  };
  assert.ok(at([5, 5, 1, 10]), "LeNet's first layer");
  assert.ok(at([5, 5, 10, 20]), "LeNet's second layer");
  assert.ok(!at([3, 3, 16, 32]), "3×3: the dense (Winograd) kernels");
  assert.ok(!at([5, 5, 10, 20], [2, 2]), "stride 2");
  assert.ok(!at([5, 5, 1, 3]), "3 channels out");
  assert.ok(!at([5, 3, 1, 8]), "a kernel row of 3 floats");
  setRoutedGradients(false);
  try {
    assert.ok(!at([5, 5, 10, 20]), "turned off");
  } finally {
    setRoutedGradients(true);
  }
});

Deno.test("the routed gradient kernels refuse a stride of 2 and rows under 4 floats", async () => {
  await useBackend("wasm");
  const [g, off, count] = [
    tf.zeros([1, 4, 16]),
    tf.zeros([1, 4, 16], "int32"),
    tf.zeros([1, 4], "int32"),
  ];
  const x = tf.zeros([1, 12, 12, 1]);
  const filter = tf.zeros([5, 3, 1, 4]);
  try {
    assert.throws(
      () =>
        tf.engine().runKernel(ROUTED_FILTER_GRAD, { x, g, off, count }, {
          strides: [2, 2],
          pad: "valid",
          filterShape: [5, 5, 1, 4],
        }),
      /DenovisionRoutedFilterGrad: stride 1 only, not 2,2/,
    );
    assert.throws(
      () =>
        tf.engine().runKernel(ROUTED_INPUT_GRAD, { g, off, count, filter }, {
          strides: [1, 1],
          pad: "valid",
          inputShape: [1, 12, 12, 1],
        }),
      /DenovisionRoutedInputGrad: needs a kernel row of 4 floats or more/,
    );
  } finally {
    tf.dispose([g, off, count, x, filter]);
  }
});

Deno.test("the routed pool kernel refuses a dy that is not y's pool", async () => {
  await useBackend("wasm");
  const y = tf.zeros([1, 8, 8, 4]);
  const dy = tf.zeros([1, 3, 4, 4]);
  try {
    assert.throws(
      () => tf.engine().runKernel(POOL_ROUTE, { dy, y }, { gridWidth: 12 }),
      /DenovisionPoolRoute: dy \[1,3,4,4\] is not the 2×2 pool of y \[1,8,8,4\]/,
    );
  } finally {
    tf.dispose([y, dy]);
  }
});

Deno.test("a LeNet training step takes the routed gradients, close to the dense ones", async () => {
  await useBackend("wasm");
  const { useLeanTraining } = await import("../../lib/train/_lean.ts");
  useLeanTraining();
  const step = (on: boolean) => {
    setRoutedGradients(on);
    const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    const names: string[] = [];
    try {
      const x = tf.tensor4d(random([4, 28, 28, 1], 11), [4, 28, 28, 1]);
      const labels = tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10);
      const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
      const original = engine.runKernel;
      engine.runKernel = function (name: unknown, ...rest: unknown[]) {
        names.push(name as string);
        return original.call(this, name, ...rest);
      };
      let grads: tf.NamedTensorMap;
      try {
        ({ grads } = tf.variableGrads(() =>
          tf.losses.softmaxCrossEntropy(
            labels,
            model.apply(x, { training: true }) as tf.Tensor,
          ) as tf.Scalar
        ));
      } finally {
        engine.runKernel = original;
      }
      const out = model.trainableWeights.map((w) =>
        grads[(w.read() as tf.Variable).name].dataSync() as Float32Array
      );
      tf.dispose([x, labels, ...Object.values(grads)]);
      return { out, names };
    } finally {
      model.dispose();
      setRoutedGradients(true);
    }
  };
  const on = step(true);
  const off = step(false);
  assert.equal(on.names.filter((n) => n === ROUTED_FILTER_GRAD).length, 2, "both layers' filters");
  assert.equal(on.names.filter((n) => n === ROUTED_INPUT_GRAD).length, 1, "the second's input");
  assert.ok(!off.names.includes(POOL_ROUTE), "turned off: the dense kernels");
  for (const [i, g] of on.out.entries()) assertClose(g, off.out[i], `weight ${i}`, 1e-5);
});

Deno.test("the routed kernels leave no buffer behind", async () => {
  await useBackend("wasm");
  const before = tf.backend().numDataIds();
  for (const [i, k] of CASES.slice(0, 3).entries()) routed(k, values(k, 40 + i), 41 + i);
  assert.equal(tf.backend().numDataIds(), before);
});

Deno.test({
  name: "the routed kernels on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const inputs = CASES.map((k, i) => values(k, 60 + 4 * i));
    const all = async () => {
      await useBackend("wasm");
      return CASES.map((k, i) => routed(k, inputs[i], 61 + 4 * i));
    };
    const { byThreads, one } = await resultsOnThreads(
      SOURCE,
      all,
      (threads, calls) =>
        assert.ok(calls >= CASES.length * (threads - 1), `${threads} threads: ${calls} calls`),
    );
    for (const [i, k] of CASES.entries()) {
      for (const [n, name] of NAMES.entries()) {
        for (const [threads, results] of byThreads) {
          assertSameBytes(
            results[i][n],
            one[i][n],
            `${label(k)} ${name}: ${threads} threads and 1`,
          );
        }
      }
    }
  },
});
