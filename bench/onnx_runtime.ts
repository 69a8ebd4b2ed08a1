// ONNX Runtime (onnxruntime-web's wasm build, one thread) on our exported models against our own
// TF.js inference (wasm backend) on the same preprocessed batch: model-only latency p50/p99 and
// the largest logit difference, as JSON.
// Run: deno task bench:onnx [--models compact-cnn:32,mobilenetv2:224] [--batch 1] [--repeats 30]
import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-web";
import { createModel, selectBackend, toOnnx } from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, runScript } from "../cli/_args.ts";

const FLAGS: FlagSpecs = {
  models: {
    type: "string",
    description: "comma-separated zoo models, each name:side",
    default: "compact-cnn:32,mobilenetv2:224",
  },
  batch: { type: "string", description: "images per call", default: "1" },
  repeats: {
    type: "string",
    description: "timed calls per runtime (after 3 warm-up)",
    default: "30",
  },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task bench:onnx [--models compact-cnn:32,mobilenetv2:224] [--batch 1] [--repeats 30]",
  "ONNX Runtime (onnxruntime-web, wasm, one thread) on our exported models against our own\n" +
    "TF.js inference (wasm backend) on the same batch, random weights: model-only p50/p99 ms and\n" +
    "the largest logit difference. Prints one JSON object per model.",
  FLAGS,
  [
    "deno task bench:onnx",
    "deno task bench:onnx --models resnet18:224 --batch 8 --repeats 10",
    "deno task bench:onnx --models lenet:28,compact-cnn:32 | jq .ort_p50_ms",
  ],
);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function time(repeats: number, body: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await body(); // warm-up: kernels compiled, buffers placed
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

/** Times both runtimes on each `name:side` model; returns one record per model. */
export async function runOnnxBench(args: string[] = Deno.args): Promise<Record<string, unknown>[]> {
  const { values } = parseArgs(args, FLAGS);
  const backend = await selectBackend("wasm", { log: () => {} });
  ort.env.wasm.numThreads = 1;
  const batch = Number(values.batch);
  const repeats = Number(values.repeats);
  const results: Record<string, unknown>[] = [];
  for (const spec of (values.models as string).split(",")) {
    const [name, side] = [spec.split(":")[0], Number(spec.split(":")[1] ?? 224)];
    const model = createModel(name, { inputShape: [side, side, 3], numClasses: 10, seed: 0 });
    const session = await ort.InferenceSession.create(toOnnx(model));
    const x = tf.randomUniform([batch, side, side, 3], -1, 1, "float32", 1);
    const nchw = tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]));
    const feeds = {
      input: new ort.Tensor("float32", nchw.dataSync() as Float32Array, nchw.shape),
    };
    let tfjsOut: ArrayLike<number> = [];
    const tfjs = await time(repeats, async () => {
      const y = model.predict(x) as tf.Tensor;
      tfjsOut = await y.data();
      y.dispose();
    });
    let ortOut: ArrayLike<number> = [];
    const onnx = await time(repeats, async () => {
      ortOut = (await session.run(feeds)).logits.data as ArrayLike<number>;
    });
    let difference = 0;
    for (let i = 0; i < tfjsOut.length; i++) {
      difference = Math.max(difference, Math.abs(tfjsOut[i] - ortOut[i]));
    }
    results.push({
      model: name,
      input: `${batch}×${side}×${side}×3`,
      tfjs_backend: backend.name,
      tfjs_p50_ms: +percentile(tfjs, 50).toFixed(2),
      tfjs_p99_ms: +percentile(tfjs, 99).toFixed(2),
      ort_p50_ms: +percentile(onnx, 50).toFixed(2),
      ort_p99_ms: +percentile(onnx, 99).toFixed(2),
      max_logit_difference: difference,
    });
    tf.dispose([x, nchw]);
    await session.release();
    model.dispose();
  }
  return results;
}

if (import.meta.main) {
  Deno.exit(
    await runScript(Deno.args, HELP, async (args) => {
      for (const record of await runOnnxBench(args)) console.log(JSON.stringify(record));
    }),
  );
}
