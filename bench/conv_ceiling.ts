// The arithmetic ceiling of the wasm backend: GFLOP/s of one large forward convolution (3×3,
// 64→64 channels, 56×56, batch 8: XNNPACK's best case, a big GEMM), against which training
// steps are judged; bench/torch_conv_ceiling.py is PyTorch's side. One JSON line.
// Run: deno run --allow-read=. bench/conv_ceiling.ts [--threads N] [--repeat 10]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmThreads, useBackend, wasmThreads } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { threads: { type: "string" }, repeat: { type: "string", default: "10" } },
});
if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
await useBackend("wasm");
const [n, h, w, c, k] = [8, 56, 56, 64, 64];
const x = tf.randomNormal([n, h, w, c], 0, 1, "float32", 1) as tf.Tensor4D;
const filter = tf.randomNormal([3, 3, c, k], 0, 1, "float32", 2) as tf.Tensor4D;
const run = () => {
  const y = tf.conv2d(x, filter, 1, "same");
  y.dataSync(); // (not returned from a tidy: tidy would walk all 1.6 M numbers looking for tensors)
  y.dispose();
};
for (let i = 0; i < 3; i++) run();
const repeat = Number(values.repeat);
const start = performance.now();
for (let i = 0; i < repeat; i++) run();
const ms = (performance.now() - start) / repeat;
const flops = 2 * n * h * w * k * 9 * c;
console.log(JSON.stringify({
  framework: `denovision (deno ${Deno.version.deno}, tfjs ${tf.version_core})`,
  op: "conv2d 3x3 64->64, 8x56x56",
  threads: wasmThreads(),
  ms: Math.round(ms * 10) / 10,
  gflops: Math.round(flops / ms / 1e6 * 10) / 10,
}));
