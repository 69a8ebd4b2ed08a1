// Batch norm in inference mode on wasm (lib/backend/_wasm_kernels/batch_norm_infer.ts): the same
// bytes as its arithmetic written out in TypeScript (γ/√(σ² + ε) and β − μ·scale rounded to
// float32 per channel, then x·scale + shift in float32), within float32 rounding of tfjs-backend-wasm's own
// kernel and of tfjs-backend-cpu, the same bytes on 1, 2 and 3 threads; cases it does not take
// (no γ, one mean for every channel) go to the built-in kernel; no tensor left behind. The kernel
// with a ReLU or ReLU6 fused in: the same bytes as the arithmetic then the clamp, in the SIMD
// module and in its TypeScript loops; bad inputs refused in one line.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { random } from "./_conv_cases.ts";
import { assertSameOnThreads } from "./_threads.ts";
import { assertLeftToStock, withStockWasm } from "./_stock.ts";
import { useBackend } from "../../mod.ts";
import { wasmFeatures } from "../../lib/backend/wasm.ts";
import { setBatchNormSimd, SOURCE } from "../../lib/backend/_wasm_kernels/batch_norm_train.ts";
import { BATCH_NORM_INFER } from "../../lib/backend/_wasm_kernels/batch_norm_infer.ts";

/** x's shape, and the per-channel tensors' (a vector, or 1s then the channels). */
const CASES: [number[], number[]][] = [
  [[2, 5, 6, 7], [7]],
  [[3, 4, 4, 64], [64]],
  [[2, 3, 4, 17], [1, 1, 1, 17]],
  [[9, 3], [3]],
  [[1, 7, 7, 160], [160]],
];
const EPSILON = 1e-3;

interface Inputs {
  x: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  beta: Float32Array;
  gamma: Float32Array;
}

function inputs(shape: number[], channels: number, seed: number): Inputs {
  const variance = random([channels], seed + 2).map((v) => Math.abs(v) + 0.01);
  return {
    x: random(shape, seed),
    mean: random([channels], seed + 1),
    variance,
    beta: random([channels], seed + 3),
    gamma: random([channels], seed + 4),
  };
}

/** tf.batchNorm of each case on the current backend. */
function batchNorms(all: Inputs[]): Float32Array[] {
  return CASES.map(([shape, perChannel], i) =>
    tf.tidy(() => {
      const { x, mean, variance, beta, gamma } = all[i];
      const t = (values: Float32Array) => tf.tensor(values, perChannel);
      const y = tf.batchNorm(tf.tensor(x, shape), t(mean), t(variance), t(beta), t(gamma), EPSILON);
      assert.deepEqual(y.shape, shape);
      return y.dataSync() as Float32Array;
    })
  );
}

/** The kernel's arithmetic in TypeScript: float32 scale and shift, then x·scale + shift. */
function reference({ x, mean, variance, beta, gamma }: Inputs): Float32Array {
  const channels = mean.length;
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + EPSILON));
  const shift = beta.map((b, c) => b - mean[c] * scale[c]);
  return x.map((v, i) => Math.fround(v * scale[i % channels]) + shift[i % channels]);
}

const all = CASES.map(([shape], i) => inputs(shape, shape[shape.length - 1], 40 + 10 * i));

Deno.test("inference batch norm on wasm: its arithmetic's bytes, within rounding of tfjs' kernels", async () => {
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const ours = batchNorms(all);
  const stock = withStockWasm(() => batchNorms(all));
  assert.equal(tf.memory().numTensors, before, "no tensor left");
  await useBackend("cpu");
  const cpu = batchNorms(all);
  await useBackend("wasm");
  // tfjs' kernel rounds differently: were ours not running, the bytes below would not match.
  assert.ok(stock.some((y, i) => y.some((v, k) => v !== ours[i][k])), "ours differs from tfjs'");
  ours.forEach((y, i) => {
    assertSameBytes(y, reference(all[i]), `[${CASES[i][0]}]: the reference's bytes`);
    assertClose(y, stock[i], `[${CASES[i][0]}]: tfjs-backend-wasm`, 1e-6);
    assertClose(y, cpu[i], `[${CASES[i][0]}]: tfjs-backend-cpu`, 1e-6);
  });
});

Deno.test("inference batch norm on wasm: what it does not take goes to tfjs' kernel", async () => {
  await useBackend("wasm");
  const { x, mean, variance, beta } = all[0];
  const run = () =>
    tf.tidy(() => {
      const t = (values: Float32Array) => tf.tensor(values, [7]);
      return [
        // No γ: tfjs' kernel (the same bytes either way).
        tf.batchNorm(tf.tensor(x, [2, 5, 6, 7]), t(mean), t(variance), t(beta)).dataSync(),
        // One mean and variance for every channel.
        tf.batchNorm(tf.tensor(x, [2, 5, 6, 7]), [0.5], [2], [0.1], [3], EPSILON).dataSync(),
      ] as Float32Array[];
    });
  assertLeftToStock(run);
});

Deno.test({
  name: "inference batch norm on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const run = async () => {
      await useBackend("wasm");
      return batchNorms(all);
    };
    await assertSameOnThreads(SOURCE, run, CASES.map(([shape]) => `[${shape}]`));
  },
});

/** The kernel with an activation capped at `cap` (Infinity: a plain ReLU) on every case. */
function activated(cap: number): Float32Array[] {
  return CASES.map(([shape, perChannel], i) =>
    tf.tidy(() => {
      const { x, mean, variance, beta, gamma } = all[i];
      const t = (values: Float32Array) => tf.tensor(values, perChannel);
      const inputs = {
        x: tf.tensor(x, shape),
        mean: t(mean),
        variance: t(variance),
        offset: t(beta),
        scale: t(gamma),
      };
      const attrs = { epsilon: EPSILON, activation: true, cap };
      const y = tf.engine().runKernel(BATCH_NORM_INFER, inputs, attrs) as tf.Tensor;
      return y.dataSync() as Float32Array;
    })
  );
}

Deno.test("inference batch norm + ReLU / ReLU6 on wasm: the arithmetic then the clamp, SIMD = loops", async () => {
  await useBackend("wasm");
  for (const cap of [Infinity, 6, 0.5]) {
    const simd = activated(cap);
    const previous = setBatchNormSimd(false);
    let loops: Float32Array[];
    try {
      loops = activated(cap);
    } finally {
      setBatchNormSimd(previous);
    }
    simd.forEach((y, i) => {
      const expected = reference(all[i]).map((z) => z < 0 ? 0 : z > cap ? cap : z);
      assertSameBytes(y, expected, `cap ${cap}, [${CASES[i][0]}]`);
      assertSameBytes(loops[i], expected, `cap ${cap}, [${CASES[i][0]}]: TypeScript loops`);
      assert.ok(y.some((v) => v === 0) && y.some((v) => v > 0), `cap ${cap}: both sides of 0`);
    });
  }
  assert.throws(
    () =>
      tf.tidy(() => {
        const x = tf.ones([2, 3]);
        const v = tf.ones([4]);
        const inputs = { x, mean: v, variance: v, offset: v, scale: v };
        tf.engine().runKernel(BATCH_NORM_INFER, inputs, {
          epsilon: 1e-3,
          activation: true,
          cap: 6,
        });
      }),
    /DenovisionBatchNormInfer: x float32, then one float32 value per channel/,
  );
});
