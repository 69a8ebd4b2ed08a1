// The MNIST protocol of ../shared/reference/torch_lenet_mnist.py: the first 8,000 digits of the
// real MNIST test file train `lenet`, the last 2,000 test it; inputs /255 then normalised
// (0.1307, 0.3081); Adam 1e-3, batch 64, seeded shuffle, 5 epochs. Prints one JSON object as the
// last stdout line. Run: deno task bench:mnist [--root DIR] [--epochs 5] [--backend wasm]
// [--seed 0] (the seed sets the initial weights and the shuffle)
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
import { type FlagSpecs, formatHelp, parseArgs, runScript } from "../cli/_args.ts";
import { threadsFlag } from "../cli/_threads.ts";

const FLAGS: FlagSpecs = {
  root: {
    type: "string",
    description: "folder of the MNIST files",
    default: "../shared/datasets/mnist",
  },
  epochs: { type: "string", description: "training epochs", default: "5" },
  threads: { type: "string", description: "wasm threads (default: the backend's choice)" },
  backend: { type: "string", description: "auto, wasm, webgpu or cpu", default: "wasm" },
  seed: { type: "string", description: "initial weights and shuffle", default: "0" },
  // The JSON line is always last; kept for `deno task bench mnist-protocol --json`.
  json: { type: "boolean", description: "accepted for the CLI; the JSON line is always last" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task bench:mnist [--root DIR] [--epochs 5] [--backend wasm] [--threads N] [--seed 0]",
  "The MNIST protocol of ../shared/reference/torch_lenet_mnist.py: lenet trained on the first\n" +
    "8,000 digits of the MNIST test file (Adam 1e-3, batch 64), tested on the last 2,000.\n" +
    "Prints train images/s and test accuracy as one JSON object, the last stdout line.",
  FLAGS,
  [
    "deno task bench:mnist",
    "deno task bench:mnist --epochs 1 --threads 2",
    "deno task bench:mnist --backend webgpu --seed 1 | tail -n 1 | jq .test_accuracy",
  ],
);

/** Runs the MNIST protocol; returns the figures printed as JSON. */
export async function runMnistProtocol(
  args: string[] = Deno.args,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs(args, FLAGS);
  if (values.threads !== undefined) await setWasmThreads(threadsFlag(values.threads));
  const backend = await selectBackend(parseBackendChoice(values.backend as string));
  const digits = await mnist({ root: values.root as string, train: false });
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

if (import.meta.main) {
  Deno.exit(
    await runScript(Deno.args, HELP, async (args) => {
      console.log(JSON.stringify(await runMnistProtocol(args)));
    }),
  );
}
