// The MNIST protocol of ../shared/reference/torch_lenet_mnist.py: the first 8,000 digits of the
// real MNIST test file train `lenet`, the last 2,000 test it; inputs /255 then normalised
// (0.1307, 0.3081); Adam 1e-3, batch 64, seeded shuffle, 5 epochs. Prints one JSON object as the
// last stdout line. Run: deno task bench:mnist [--root DIR] [--epochs 5] [--backend wasm]
// [--seed 0] (the seed sets the initial weights and the shuffle)
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  DataLoader,
  evaluate,
  fit,
  mnist,
  parseBackendChoice,
  selectBackend,
  setWasmThreads,
  Subset,
  wasmThreads,
} from "../mod.ts";

/** Runs the MNIST protocol; returns the figures printed as JSON. */
export async function runMnistProtocol(
  args: string[] = Deno.args,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      root: { type: "string", default: "../shared/datasets/mnist" },
      epochs: { type: "string", default: "5" },
      threads: { type: "string" },
      backend: { type: "string", default: "wasm" },
      seed: { type: "string", default: "0" },
      json: { type: "boolean", default: false }, // the JSON line is always last; kept for the CLI
    },
  });
  if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
  const backend = await selectBackend(parseBackendChoice(values.backend!));
  const digits = await mnist({ root: values.root, train: false });
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const train = new Subset(digits, range(0, 8000));
  const test = new Subset(digits, range(8000, 10000));
  // uint8 batches; scaling and normalisation happen on the backend, fused into the first step.
  const normalise = (x: tf.Tensor4D) =>
    tf.div(tf.sub(tf.div(tf.cast(x, "float32"), 255), 0.1307), 0.3081) as tf.Tensor4D;
  const loader = (dataset: Subset, shuffle: boolean) =>
    new DataLoader(dataset, { batchSize: 64, shuffle, seed, numWorkers: 0 });
  const seed = Number(values.seed);
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed });
  const { history } = await fit(model, loader(train, true), {
    epochs: Number(values.epochs),
    numClasses: 10,
    optimizer: { name: "adam", lr: 1e-3 },
    inputTransform: normalise,
    callbacks: {
      onEpochEnd: (log) =>
        console.error(
          `epoch ${log.epoch + 1}: loss ${log.loss.toFixed(4)}, accuracy ${
            log.accuracy.toFixed(4)
          }, ` +
            `${log.imagesPerSecond.toFixed(0)} img/s`,
        ),
    },
  });
  const evaluation = await evaluate(model, loader(test, false), {
    numClasses: 10,
    inputTransform: normalise,
  });
  const steady = history.length > 1 ? history.slice(1) : history;
  const seconds = steady.reduce((s, log) => s + log.seconds, 0);
  const result = {
    framework: `denovision (deno ${Deno.version.deno}, tfjs ${tf.version_core})`,
    backend: backend.name,
    ...(backend.name === "wasm" ? { threads: wasmThreads() } : {}),
    seed,
    epochs: history.length,
    train_images_per_s: Math.round((8000 * steady.length) / seconds),
    test_accuracy: Math.round(evaluation.accuracy * 10000) / 10000,
    test_loss: Math.round(evaluation.loss * 10000) / 10000,
  };
  model.dispose();
  return result;
}

if (import.meta.main) console.log(JSON.stringify(await runMnistProtocol()));
