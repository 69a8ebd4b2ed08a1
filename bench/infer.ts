// Inference, as JSON: latency of one image end to end (read, decode, preprocess, predict, read
// back) as p50/p99, and batched throughput on preprocessed tensors.
// Run: deno task bench infer [--run DIR | --model mobilenetv2 --img-size 224] [--backend auto]
//      [--image FILE] [--repeats 50] [--batch-size 32]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import {
  centerCrop,
  compose,
  createModel,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  openTrainedModel,
  parseBackendChoice,
  predictFiles,
  resize,
  selectBackend,
  type TrainedModel,
} from "../mod.ts";
import { useLeanInference } from "../lib/train/_lean.ts";

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Measures single-image latency and batched throughput; returns the figures. */
export async function runInferBench(args: string[] = Deno.args): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      run: { type: "string" },
      model: { type: "string", default: "mobilenetv2" },
      "img-size": { type: "string", default: "224" },
      backend: { type: "string", default: "auto" },
      image: {
        type: "string",
        default: "../shared/datasets/hymenoptera/val/bees/1032546534_06907fe3b3.jpg",
      },
      repeats: { type: "string", default: "50" },
      "batch-size": { type: "string", default: "32" },
      json: { type: "boolean", default: false },
    },
  });
  const backend = await selectBackend(parseBackendChoice(values.backend!), {
    log: (line) => console.error(line),
  });
  let trained: TrainedModel;
  if (values.run !== undefined) {
    trained = await openTrainedModel(values.run);
  } else {
    useLeanInference(); // as openTrainedModel does
    const side = Number(values["img-size"]);
    const transform = compose([
      resize(Math.round((side * 256) / 224)),
      centerCrop(side),
      normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }),
    ]);
    trained = {
      model: createModel(values.model!, { inputShape: [side, side, 3], numClasses: 1000, seed: 0 }),
      preprocessing: {
        classes: Array.from({ length: 1000 }, (_, i) => `class ${i}`),
        inputShape: [side, side, 3],
        transform: { name: transform.name, options: transform.options },
      },
      transform,
      modelDir: "(created)",
    };
  }
  const repeats = Number(values.repeats);
  for (let i = 0; i < 3; i++) await predictFiles(trained, [values.image!], 1);
  const latencies: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await predictFiles(trained, [values.image!], 1);
    latencies.push(performance.now() - start);
  }
  latencies.sort((a, b) => a - b);

  const batch = Number(values["batch-size"]);
  const x = tf.randomNormal([batch, ...trained.preprocessing.inputShape], 0, 1, "float32", 1);
  const run = async () => {
    const out = trained.model.predict(x) as tf.Tensor;
    await out.data();
    out.dispose();
  };
  await run();
  const rounds = 5;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) await run();
  const seconds = (performance.now() - start) / 1000;
  x.dispose();
  trained.model.dispose();
  return {
    framework: `denovision (deno ${Deno.version.deno}, tfjs ${tf.version_core})`,
    model: values.run ?? values.model,
    backend: backend.name,
    input: trained.preprocessing.inputShape,
    latency_ms_p50: Math.round(percentile(latencies, 50) * 10) / 10,
    latency_ms_p99: Math.round(percentile(latencies, 99) * 10) / 10,
    batch_size: batch,
    batched_images_per_s: Math.round(((batch * rounds) / seconds) * 10) / 10,
    peak_rss_mb: Math.round(Deno.memoryUsage().rss / 2 ** 20),
  };
}

if (import.meta.main) console.log(JSON.stringify(await runInferBench()));
