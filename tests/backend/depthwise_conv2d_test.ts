// Depthwise convolution's forward pass on wasm (lib/backend/_wasm_kernels/depthwise_conv2d.ts, on
// depthwise_filter_grad.c's dw_forward): within float32 rounding of tfjs-backend-cpu and of
// tfjs-backend-wasm's own kernel (XNNPACK) for 3×3 and 5×5 filters, strides 1 and 2, "same",
// "valid" and explicit padding, channel counts with and without a tail, widths odd and even; the
// same bytes on 1, 2 and 3 threads; channel multipliers above 1 and dilations go to tfjs' kernel.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose } from "./_assert.ts";
import { random } from "./_conv_cases.ts";
import { assertSameOnThreads } from "./_threads.ts";
import { assertLeftToStock, withStockWasm } from "./_stock.ts";
import { useBackend } from "../../mod.ts";
import { wasmFeatures } from "../../lib/backend/wasm.ts";
import { SOURCE } from "../../lib/backend/_wasm_simd/depthwise_filter_grad.ts";

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
/** x's shape, the filter's side, the stride and the padding. */
const CASES: [[number, number, number, number], number, number, Pad][] = [
  [[2, 9, 8, 16], 3, 1, "same"],
  [[2, 9, 8, 16], 3, 2, "same"],
  [[3, 8, 7, 7], 3, 1, "valid"],
  [[1, 11, 11, 3], 3, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]],
  [[2, 10, 9, 24], 5, 2, [[0, 0], [2, 2], [2, 2], [0, 0]]],
  [[1, 7, 7, 96], 5, 1, "same"],
  [[1, 2, 3, 8], 3, 1, "same"], // narrower than the filter
];

/** Every case's depthwise convolution on the current backend. */
function convolutions(): Float32Array[] {
  return CASES.map(([shape, k, stride, pad], i) =>
    tf.tidy(() => {
      const x = tf.tensor(random(shape, 60 + i), shape) as tf.Tensor4D;
      const filter = tf.tensor(random([k, k, shape[3], 1], 80 + i), [k, k, shape[3], 1]);
      const y = tf.depthwiseConv2d(x, filter as tf.Tensor4D, stride, pad);
      return y.dataSync() as Float32Array;
    })
  );
}

Deno.test("depthwise convolution on wasm: within rounding of tfjs-backend-cpu and of XNNPACK", async () => {
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const ours = convolutions();
  assert.equal(tf.memory().numTensors, before, "no tensor left");
  const stock = withStockWasm(convolutions);
  await useBackend("cpu");
  const cpu = convolutions();
  await useBackend("wasm");
  // XNNPACK sums in another order: were ours not running, every byte would match.
  assert.ok(stock.some((y, i) => y.some((v, k) => v !== ours[i][k])), "ours differs from XNNPACK");
  ours.forEach((y, i) => {
    const label = `[${CASES[i][0]}] ${CASES[i][1]}×${CASES[i][1]} /${CASES[i][2]} ${CASES[i][3]}`;
    assertClose(y, cpu[i], `${label}: cpu`, 1e-5);
    assertClose(y, stock[i], `${label}: XNNPACK`, 1e-5);
  });
});

Deno.test("depthwise convolution on wasm: a channel multiplier or a dilation goes to tfjs' kernel", async () => {
  await useBackend("wasm");
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor(random([1, 6, 6, 4], 5), [1, 6, 6, 4]) as tf.Tensor4D;
      const twice = tf.tensor(random([3, 3, 4, 2], 6), [3, 3, 4, 2]) as tf.Tensor4D;
      const once = tf.tensor(random([3, 3, 4, 1], 7), [3, 3, 4, 1]) as tf.Tensor4D;
      return [
        tf.depthwiseConv2d(x, twice, 1, "same").dataSync(),
        tf.depthwiseConv2d(x, once, 1, "same", "NHWC", 2).dataSync(),
      ] as Float32Array[];
    });
  assertLeftToStock(run);
});

Deno.test({
  name: "depthwise convolution on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const run = async () => {
      await useBackend("wasm");
      return convolutions();
    };
    await assertSameOnThreads(SOURCE, run, CASES.map(([shape]) => `[${shape}]`));
  },
});
