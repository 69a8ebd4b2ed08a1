// The forward convolution's WebAssembly SIMD kernel (lib/backend/_wasm_simd/conv2d_forward.ts)
// and the FusedConv2D wrapper in front of XNNPACK (lib/backend/_wasm_kernels/fused_conv2d.ts)
// against tfjs-backend-cpu's FusedConv2D: relative error ≤ 1e-4 over strides 1 and 2, 'valid',
// 'same' and explicit asymmetric padding, kernels 1×1 to 5×5 and non-square, 1 to 16 input
// channels and 1 to 64 output channels (padded to vectors of 4 or not, each register tile), odd
// sizes, with and without a bias, linear and ReLU; other activations fall back to the built-in
// kernel; the same bytes on one thread, two and three (a pool of helpers); no buffer left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { useBackend, wasmFeatures } from "../../mod.ts";
import {
  type SimdActivation,
  simdConvForward,
  simdForwardSupports,
  SOURCE,
} from "../../lib/backend/_wasm_simd/conv2d_forward.ts";
import { simdForwardWanted } from "../../lib/backend/_wasm_kernels/fused_conv2d.ts";
import { type Pad, random, type Shape4 } from "./_conv_cases.ts";
import { setWinograd } from "../../lib/backend/_wasm_simd/winograd.ts";

// This file tests the direct SIMD kernels: 3×3, stride-1 layers would take the Winograd path
// (winograd_test.ts tests it), so it is off here.
setWinograd(false);

interface Case {
  x: Shape4;
  k: [number, number];
  out: number;
  stride: number;
  pad: Pad;
  bias: boolean;
  activation: string;
}

const c = (
  x: Shape4,
  k: [number, number],
  out: number,
  stride: number,
  pad: Pad,
  bias = true,
  activation = "relu",
): Case => ({ x, k, out, stride, pad, bias, activation });

const CASES: Case[] = [
  // LeNet's layers (a batch of 3), compact-cnn's.
  c([3, 28, 28, 1], [5, 5], 10, 1, "valid"),
  c([3, 12, 12, 10], [5, 5], 20, 1, "valid"),
  c([2, 32, 32, 3], [3, 3], 16, 1, "same"),
  c([2, 16, 16, 16], [3, 3], 64, 1, "same", false, "linear"),
  // Odd sizes, strides 1 and 2, each padding.
  c([2, 9, 11, 3], [3, 5], 20, 1, "same", false),
  c([2, 9, 11, 3], [3, 5], 5, 2, "same", true, "linear"),
  c([1, 13, 7, 1], [5, 5], 1, 2, "valid"),
  c([2, 8, 9, 10], [3, 3], 16, 1, [[0, 0], [1, 2], [2, 0], [0, 0]], true, "linear"),
  c([1, 10, 11, 3], [3, 3], 10, 2, [[0, 0], [3, 0], [0, 4], [0, 0]]),
  c([2, 7, 5, 16], [1, 1], 64, 1, "valid", true, "linear"),
  c([2, 7, 5, 1], [1, 1], 1, 2, "same", false),
  c([1, 11, 7, 1], [5, 3], 5, 1, "same"),
  c([2, 6, 6, 16], [5, 5], 1, 1, "valid", false, "linear"),
  c([1, 17, 19, 3], [5, 5], 64, 2, "same"),
  c([2, 10, 13, 10], [3, 3], 5, 2, "valid", true, "linear"),
  c([1, 5, 23, 16], [3, 3], 20, 1, [[0, 0], [0, 3], [1, 1], [0, 0]]),
  c([2, 9, 9, 1], [3, 3], 10, 1, "same", false, "linear"),
  // Wide layers (ResNet's): 3×3 at stride 2, its 1×1 downsample, a 3×3 with 96 channels.
  c([1, 9, 10, 64], [3, 3], 128, 2, "same"),
  c([2, 8, 8, 64], [1, 1], 128, 2, "valid", false, "linear"),
  c([1, 6, 7, 96], [3, 3], 96, 1, "same", true, "linear"),
];

function info(c: Case): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    c.x,
    [c.k[0], c.k[1], c.x[3], c.out],
    c.stride,
    1,
    c.pad,
  );
}

interface Values {
  x: Float32Array;
  filter: Float32Array;
  bias?: Float32Array;
}

function inputs(c: Case, seed: number): Values {
  return {
    x: random(c.x, seed),
    filter: random([c.k[0], c.k[1], c.x[3], c.out], seed + 1),
    bias: c.bias ? random([c.out], seed + 2) : undefined,
  };
}

function tensors(c: Case, values: Values) {
  return {
    x: tf.tensor(values.x, c.x),
    filter: tf.tensor(values.filter, [c.k[0], c.k[1], c.x[3], c.out]),
    bias: values.bias === undefined ? undefined : tf.tensor(values.bias, [c.out]),
  };
}

/** The registered FusedConv2D kernel's output on the current backend. */
function registered(c: Case, values: Values): Float32Array {
  const { x, filter, bias } = tensors(c, values);
  const attrs = {
    strides: [c.stride, c.stride],
    pad: c.pad,
    dataFormat: "NHWC",
    dilations: [1, 1],
    activation: c.activation,
  };
  const kernelInputs: tf.NamedTensorMap = { x, filter };
  if (bias !== undefined) kernelInputs.bias = bias;
  const out = tf.engine().runKernel(
    "FusedConv2D",
    kernelInputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  const result = out.dataSync().slice() as Float32Array;
  tf.dispose([x, filter, out]);
  if (bias !== undefined) bias.dispose();
  return result;
}

/** tfjs-backend-cpu's output. */
async function expected(c: Case, values: Values): Promise<Float32Array> {
  await useBackend("cpu");
  return registered(c, values);
}

/** Our SIMD kernel's output on the current wasm backend (whatever the size rule says). */
function simd(c: Case, values: Values): Float32Array {
  const { x, filter, bias } = tensors(c, values);
  const i = info(c);
  const out = simdConvForward(tf.backend(), x, filter, bias, i, c.activation as SimdActivation);
  assert.ok(out !== undefined, "our SIMD forward convolution runs on this engine");
  assert.deepEqual(out.shape, [i.batchSize, i.outHeight, i.outWidth, i.outChannels]);
  const result = tf.backend().readSync(out.dataId) as Float32Array;
  tf.backend().disposeData(out.dataId);
  tf.dispose([x, filter]);
  if (bias !== undefined) bias.dispose();
  return result.slice();
}

const label = (c: Case) =>
  `x=${c.x} k=${c.k} out=${c.out} s=${c.stride} pad=${JSON.stringify(c.pad)} ` +
  `bias=${c.bias} ${c.activation}`;

Deno.test("the forward convolution's SIMD kernel matches cpu", async (t) => {
  for (const [i, c] of CASES.entries()) {
    await t.step(label(c), async () => {
      const values = inputs(c, 100 + 3 * i);
      const wanted = await expected(c, values);
      await useBackend("wasm");
      assertClose(simd(c, values), wanted, label(c));
    });
  }
});

Deno.test("the SIMD kernel's ReLU keeps cpu's zeros and its linear output keeps signs", async () => {
  // Every output negative before the activation: ReLU gives cpu's zeros, linear the negatives.
  for (const activation of ["relu", "linear"]) {
    const k = c([1, 6, 7, 3], [3, 3], 10, 1, "same", true, activation);
    const values = {
      x: new Float32Array(6 * 7 * 3).fill(1),
      filter: new Float32Array(3 * 3 * 3 * 10).fill(-0.5),
      bias: new Float32Array(10).fill(-1),
    };
    const wanted = await expected(k, values);
    await useBackend("wasm");
    const got = simd(k, values);
    assertSameBytes(got, wanted, activation);
    assert.ok(activation === "relu" ? got.every((v) => v === 0) : got.every((v) => v < 0));
  }
});

Deno.test("FusedConv2D on wasm matches cpu, on our kernel or the built-in", async (t) => {
  const extra = [
    // Other activations go to the built-in kernel (ours would apply none of them).
    c([2, 12, 12, 3], [3, 3], 10, 1, "same", true, "relu6"),
    c([2, 12, 12, 1], [5, 5], 10, 2, "valid", true, "elu"),
    c([2, 12, 12, 3], [3, 3], 16, 1, "same", false, "sigmoid"),
  ];
  for (const [i, k] of [...CASES, ...extra].entries()) {
    await t.step(label(k), async () => {
      const values = inputs(k, 300 + 3 * i);
      const wanted = await expected(k, values);
      await useBackend("wasm");
      assertClose(registered(k, values), wanted, label(k));
    });
  }
});

Deno.test("the wrapped FusedConv2D runs our kernel where the rule takes it", async () => {
  // Our kernel and the registered one give the same bytes where the rule takes it; with relu6
  // the built-in runs (its result clipped at 6).
  await useBackend("wasm");
  const taken = c([3, 28, 28, 1], [5, 5], 10, 1, "valid");
  assert.ok(simdForwardWanted(info(taken)));
  const values = inputs(taken, 11);
  assertSameBytes(registered(taken, values), simd(taken, values), "LeNet's first layer");
  const relu6 = { ...taken, activation: "relu6" };
  const clipped = registered(relu6, values);
  const ours = simd(taken, values).map((v) => Math.min(v, 6));
  assertClose(clipped, ours, "relu6 on the built-in");
});

Deno.test("the SIMD forward convolution leaves no buffer behind", async () => {
  await useBackend("wasm");
  const before = tf.backend().numDataIds();
  for (const k of [CASES[0], CASES[2], CASES[7], CASES[8]]) {
    const values = inputs(k, 3);
    simd(k, values);
    registered(k, values);
    registered({ ...k, activation: "elu" }, values);
  }
  assert.equal(tf.backend().numDataIds(), before);
});

Deno.test("every convolution the SIMD kernel supports takes it", () => {
  const at = (x: Shape4, f: Shape4, stride: number, pad: Pad, dilation = 1) =>
    simdForwardWanted(tf.backend_util.computeConv2DInfo(x, f, stride, dilation, pad));
  assert.ok(at([64, 28, 28, 1], [5, 5, 1, 10], 1, "valid"), "LeNet's first layer");
  assert.ok(at([64, 12, 12, 10], [5, 5, 10, 20], 1, "valid"), "LeNet's second layer");
  assert.ok(at([8, 224, 224, 3], [7, 7, 3, 64], 2, "same"), "ResNet's stem");
  assert.ok(at([8, 14, 14, 256], [3, 3, 256, 512], 2, "same"), "ResNet's layer4.0.conv1");
  assert.ok(!at([64, 28, 28, 1], [5, 5, 1, 10], 3, "valid"), "stride 3");
  assert.ok(!at([64, 28, 28, 1], [3, 3, 1, 10], 1, "valid", 2), "dilated");
  const strides = tf.backend_util.computeConv2DInfo([1, 8, 8, 1], [3, 3, 1, 4], [1, 2], 1, "same");
  assert.ok(!simdForwardSupports(strides), "unequal strides");
});

Deno.test({
  name: "the forward SIMD kernel on 2 and 3 threads (a pool of helpers) = cpu, = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    // Odd row counts (the cuts fall inside an image), one image, padded and not, stride 2.
    const cases = [CASES[0], CASES[4], CASES[7], CASES[8], CASES[11], CASES[13]];
    const values = cases.map((k, i) => inputs(k, 40 + 3 * i));
    const wanted: Float32Array[] = [];
    for (const [i, k] of cases.entries()) wanted.push(await expected(k, values[i]));
    const all = () => cases.map((k, i) => simd(k, values[i]));
    // Parts per call: the convolution's, and the padding's where x is padded.
    const padded = (k: Case) => {
      const { top, left } = info(k).padInfo;
      const i = info(k);
      const height = (i.outHeight - 1) * k.stride + k.k[0];
      const width = (i.outWidth - 1) * k.stride + k.k[1];
      return top !== 0 || left !== 0 || height > k.x[1] || width > k.x[2];
    };
    const calls = cases.reduce((n, k) => n + (padded(k) ? 2 : 1), 0);
    const { byThreads, one } = await resultsOnThreads(
      SOURCE,
      all,
      (threads, helperCalls) =>
        assert.equal(
          helperCalls,
          calls * (threads - 1),
          `${threads} threads: the helpers took every part`,
        ),
    );
    for (const [i, k] of cases.entries()) {
      assertClose(one[i], wanted[i], label(k));
      for (const [threads, results] of byThreads) {
        assertSameBytes(results[i], one[i], `${label(k)}: ${threads} threads and 1`);
      }
    }
  },
});
