// A small hyperparameter sweep: learning rate and label smoothing, four random trials.
//
// `resolveSweepConfig` checks the search space (train flag names to lists or ranges) and
// `runSweep` plans the trials from the seed, trains each, and records it in `sweep.jsonl` and
// `sweep.html` (a table and the validation curves). By default every trial is a `deno task train`
// child process with its own run directory, as `deno task sweep` does; here `runTrial` trains
// in this process instead, compact-cnn for 5 epochs on 1,200 images of the embedded shapes set,
// to stay under a minute. runSweep continues a stopped sweep from its `sweep.jsonl`, so this
// example clears the folder first.
//
// Run:    deno run --allow-read --allow-write=data/examples examples/sweep.ts
// Prints: each trial's values as it starts and its best val_accuracy as it ends, then the best
//         trial; the table is in data/examples/sweep/lr-smoothing/sweep.html.
import {
  createModel,
  DataLoader,
  fit,
  normalize,
  resolveSweepConfig,
  runSweep,
  selectBackend,
  shapes,
  sweepDirOf,
} from "../mod.ts";

const config = resolveSweepConfig({
  name: "lr-smoothing",
  out: "data/examples/sweep",
  strategy: "random", // or "grid" (every combination of lists) or "tpe"
  space: { lr: { log_uniform: [1e-3, 5e-2] }, "label-smoothing": [0, 0.1] },
  trials: 4,
  seed: 0,
  objective: { metric: "val_accuracy", direction: "max" },
});
await Deno.remove(sweepDirOf(config), { recursive: true }).catch(() => {});

await selectBackend("wasm");
const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
const train = new DataLoader(shapes({ size: 1200 }), {
  batchSize: 32,
  shuffle: true,
  transform,
  numWorkers: 0,
});
const validation = new DataLoader(shapes({ train: false, size: 400 }), {
  batchSize: 100,
  transform,
  numWorkers: 0,
});

const result = await runSweep(config, {
  log: (line) => console.log(line),
  runTrial: async ({ params }) => {
    const started = performance.now();
    const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 0 });
    const { history } = await fit(model, train, {
      epochs: 5,
      numClasses: 10,
      optimizer: { name: "adam", lr: params.lr as number },
      loss: { labelSmoothing: params["label-smoothing"] as number },
      validation,
    });
    model.dispose();
    const curve = history.map((log) => log.valAccuracy!);
    return {
      status: "done",
      objective: Math.max(...curve),
      epochs: history.length,
      curve,
      resumed: false,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  },
});

const best = result.best!;
console.log(
  `best: ${best.trial} lr=${(best.params.lr as number).toPrecision(3)} ` +
    `label-smoothing=${best.params["label-smoothing"]} val_accuracy=${best.objective!.toFixed(3)}`,
);
console.log(`wrote ${result.dir}/sweep.jsonl and sweep.html`);
