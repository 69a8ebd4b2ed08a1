// The 3×3, stride-1 layers of `compact-cnn` and ResNet-18 (CIFAR stem) on the wasm backend, each
// pass timed on our direct SIMD kernels and on the Winograd path (lib/backend/_wasm_simd/
// winograd.ts), in one process, alternating: median ms of the forward convolution (bias + ReLU),
// the input gradient and the filter gradient. One JSON line per layer.
// Run: deno run --allow-read=. bench/winograd_layers.ts [--threads 2] [--repeat 15]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmThreads, useBackend, wasmThreads } from "../mod.ts";
import { setWinograd } from "../lib/backend/_wasm_simd/winograd.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { threads: { type: "string" }, repeat: { type: "string", default: "15" } },
});
if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
await useBackend("wasm");
const repeat = Number(values.repeat);

const LAYERS: [string, [number, number, number, number], number][] = [
  ["compact-cnn conv2", [64, 16, 16, 16], 32],
  ["compact-cnn conv3", [64, 8, 8, 32], 64],
  ["resnet18 layer1", [32, 32, 32, 64], 64],
  ["resnet18 layer2", [32, 16, 16, 128], 128],
  ["resnet18 layer3", [32, 8, 8, 256], 256],
  ["resnet18 layer4", [32, 4, 4, 512], 512],
];

/**
 * Median ms of `pass` with the Winograd path off and on, in alternating blocks of 3 calls after 5
 * of each (the wasm backend computes synchronously: a call's time is its kernel's).
 */
function time(pass: () => tf.Tensor): [number, number] {
  const runs: [number[], number[]] = [[], []];
  for (const on of [false, true]) {
    setWinograd(on);
    for (let i = 0; i < 5; i++) pass().dispose();
  }
  for (let block = 0; block < Math.ceil(repeat / 3); block++) {
    for (const [k, on] of [[0, false], [1, true]] as const) {
      setWinograd(on);
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        const out = pass();
        runs[k].push(performance.now() - start);
        out.dispose();
      }
    }
  }
  setWinograd(true);
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return [median(runs[0]), median(runs[1])];
}

for (const [name, shape, out] of LAYERS) {
  const x = tf.randomNormal(shape, 0, 1, "float32", 1) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, shape[3], out], 0, 0.1, "float32", 2) as tf.Tensor4D;
  const bias = tf.randomNormal([out], 0, 1, "float32", 3) as tf.Tensor1D;
  const dy = tf.randomNormal([shape[0], shape[1], shape[2], out], 0, 1, "float32", 4);
  const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC" };
  const passes = {
    forward: () =>
      tf.fused.conv2d({ x, filter, bias, strides: 1, pad: "same", activation: "relu" }),
    input_gradient: () =>
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
        ...attrs,
        inputShape: shape,
      }) as tf.Tensor,
    filter_gradient: () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        ...attrs,
        filterShape: filter.shape,
      }) as tf.Tensor,
  };
  const ms: Record<string, { direct: number; winograd: number }> = {};
  for (const [pass, run] of Object.entries(passes)) {
    const [direct, winograd] = time(run);
    ms[pass] = {
      direct: Math.round(direct * 100) / 100,
      winograd: Math.round(winograd * 100) / 100,
    };
  }
  console.log(JSON.stringify({ layer: name, x: shape, out, threads: wasmThreads(), ms }));
  tf.dispose([x, filter, bias, dy]);
}
