// Internal: what `--balance` does to a run — a class-balanced sampler for the training loader, or
// inverse-frequency class weights for the loss — and the class counts the report draws.
import type { Dataset } from "../datasets/types.ts";
import {
  classBalancedSampler,
  classCounts,
  inverseFrequencyWeights,
  type Sampler,
} from "../loader/sampler.ts";
import type { TrainConfig } from "./config.ts";

/** The training loader's sampler, the loss's class weights and both splits' class counts. */
export interface RunBalance {
  sampler?: Sampler;
  classWeights?: number[];
  counts: { train: number[]; validation: number[] };
}

function labelsOf(dataset: Dataset): number[] {
  return Array.from({ length: dataset.length }, (_, i) => dataset.labelOf(i));
}

/** Builds the run's balancing from `config.balance`; says what it chose through `log`. */
export function runBalance(
  config: Pick<TrainConfig, "balance" | "seed">,
  data: { train: Dataset; validation: Dataset; classes: readonly string[] },
  log: (line: string) => void,
): RunBalance {
  const k = data.classes.length;
  const trainLabels = labelsOf(data.train);
  const counts = {
    train: classCounts(trainLabels, k),
    validation: classCounts(labelsOf(data.validation), k),
  };
  const balance: RunBalance = { counts };
  if (config.balance === "none") return balance;
  const per = (values: number[], format: (v: number) => string) =>
    data.classes.map((name, c) => `${name} ${format(values[c])}`).join(", ");
  if (config.balance === "weights") {
    balance.classWeights = inverseFrequencyWeights(counts.train);
    log(`balance: class-weighted loss, ${per(balance.classWeights, (w) => w.toFixed(3))}`);
    return balance;
  }
  balance.sampler = classBalancedSampler(trainLabels, {
    mode: config.balance,
    seed: config.seed,
  });
  log(
    `balance: ${config.balance} to ${balance.sampler.length} samples an epoch (train counts: ${
      per(counts.train, String)
    })`,
  );
  return balance;
}
