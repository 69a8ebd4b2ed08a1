// Compression of resnet18 at CIFAR-10's size (32×32×3, 10 classes, seed 1) without training:
// parameters, export bytes (TF.js float32 and uint8, ONNX float and int8 QDQ) and inference
// latency (wasm, median of 20 after warm-up) for the model as built, 80% structured-pruned,
// and ONNX QDQ. Accuracy needs CIFAR-10 training, which this 2-core machine cannot do in a session.
// Run: deno run --allow-read=. --allow-write=data bench/compress_resnet.ts
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import {
  createModel,
  fileHandler,
  pruneChannels,
  quantizeOnnxWeights,
  toOnnx,
  useBackend,
} from "../mod.ts";

await useBackend("wasm");
const model = createModel("resnet18", { inputShape: [32, 32, 3], numClasses: 10, seed: 1 });

function latency(m: LayersModel, batch: number): number {
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 7);
  const times: number[] = [];
  for (let i = 0; i < 23; i++) {
    const start = performance.now();
    const y = m.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
    if (i >= 3) times.push(performance.now() - start);
  }
  x.dispose();
  return Math.round(times.sort((a, b) => a - b)[10] * 100) / 100;
}

const dir = await Deno.makeTempDir({ dir: "data", prefix: ".compress-resnet-" });
async function sizes(m: LayersModel) {
  const out: Record<string, number> = {};
  for (const quantization of ["none", "uint8"] as const) {
    await m.save(fileHandler(`${dir}/${quantization}`, { quantization }));
    out[`tfjs_${quantization}_bytes`] =
      (await Deno.stat(`${dir}/${quantization}/weights.bin`)).size;
  }
  const onnx = toOnnx(m);
  out.onnx_float_bytes = onnx.length;
  out.onnx_qdq_bytes = quantizeOnnxWeights(onnx).bytes.length;
  return out;
}
try {
  const rows = [];
  rows.push({
    model: "resnet18",
    params: model.countParams(),
    ...await sizes(model),
    latency_ms_b1: latency(model, 1),
    latency_ms_b32: latency(model, 32),
  });
  const { model: slim, pruned } = await pruneChannels(model, { ratio: 0.8 });
  rows.push({
    model: "resnet18, 80% structured",
    params: slim.countParams(),
    pruned_convs: Object.keys(pruned).length,
    ...await sizes(slim),
    latency_ms_b1: latency(slim, 1),
    latency_ms_b32: latency(slim, 32),
  });
  console.log(JSON.stringify(rows));
} finally {
  await Deno.remove(dir, { recursive: true });
}
