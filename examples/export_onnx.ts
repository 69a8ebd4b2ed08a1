// Evaluate a trained model, export it to ONNX, and check ONNX Runtime gives the same logits.
//
// `openTrainedModel` loads a model folder with its preprocessing.json (what train_folder.ts
// saves, or a `deno task train` run directory), `evaluate` scores it on the validation photos
// with that preprocessing, and `exportOnnx` writes the graph `torch.onnx.export` would (NCHW
// `input` with a dynamic batch, `logits`, opset 13, batch norms folded) with the preprocessing
// in its metadata. ONNX Runtime (onnxruntime-web's wasm build, a dependency of the library) then
// runs every validation photo, and its logits are compared with TF.js's.
//
// Run:    deno run --allow-read --allow-write=data/examples examples/export_onnx.ts \
//           [model dir] [val dir]     (after examples/train_folder.ts: its model is the default)
// Prints: validation accuracy and macro F1, the ONNX file's interface, and the largest logit
//         difference between ONNX Runtime and TF.js over the photos (about 1e-6).
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import {
  DataLoader,
  evaluate,
  exportOnnx,
  ImageFolder,
  onnxMetadata,
  openTrainedModel,
  readOnnxModel,
  selectBackend,
} from "../mod.ts";

const source = Deno.args[0] ?? "data/examples/train_folder/model";
const valDir = Deno.args[1] ?? "../shared/datasets/hymenoptera/val";
await selectBackend("wasm");
const { model, preprocessing, transform } = await openTrainedModel(source).catch((error) => {
  throw new Error(`${error.message}\n(run examples/train_folder.ts first, or pass a model)`);
});

const val = await ImageFolder.open(valDir);
const loader = new DataLoader(val, { batchSize: 32, transform });
const numClasses = preprocessing.classes.length;
const evaluation = await evaluate(model, loader, { numClasses });
console.log(
  `val accuracy ${(evaluation.accuracy * 100).toFixed(1)}%, macro F1 ${
    evaluation.report.macro.f1.toFixed(3)
  } on ${val.length} photos`,
);

const path = "data/examples/export_onnx/model.onnx";
await exportOnnx(model, path, { metadata: onnxMetadata(preprocessing) });
const bytes = await Deno.readFile(path);
const info = readOnnxModel(bytes);
const dims = (io: { name: string; dims: (number | string)[] }[]) =>
  io.map(({ name, dims }) => `${name} [${dims}]`).join(", ");
console.log(
  `wrote ${path}: ${bytes.length} bytes, opset ${info.opset}, ${info.nodes} nodes, ` +
    `${dims(info.inputs)} -> ${dims(info.outputs)}, classes ${info.metadata.classes}`,
);

const argmax = (logits: Float32Array, row: number) => {
  const scores = logits.subarray(row * numClasses, (row + 1) * numClasses);
  return scores.indexOf(Math.max(...scores));
};
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const session = await ort.InferenceSession.create(bytes);
let difference = 0;
let agree = 0;
for await (const batch of loader) {
  const x = tf.tensor4d(batch.images, batch.shape);
  const nchw = tf.transpose(x, [0, 3, 1, 2]);
  const input = new ort.Tensor("float32", await nchw.data() as Float32Array, nchw.shape);
  const onnx = (await session.run({ input })).logits.data as Float32Array;
  const logits = tf.tidy(() => model.predict(x) as tf.Tensor);
  const tfjs = await logits.data() as Float32Array;
  tf.dispose([x, nchw, logits]);
  for (let i = 0; i < tfjs.length; i++) {
    difference = Math.max(difference, Math.abs(tfjs[i] - onnx[i]));
  }
  for (let row = 0; row < batch.labels.length; row++) {
    if (argmax(tfjs, row) === argmax(onnx, row)) agree++;
  }
}
await session.release();
console.log(`ONNX Runtime vs TF.js: max |logit difference| ${difference.toExponential(2)}`);
console.log(`same predicted class for ${agree} of ${val.length} photos`);
model.dispose();
