/**
 * Learning-rate schedules: step, multistep, cosine with linear warmup (per step), and
 * ReduceLROnPlateau (per epoch, on a monitored metric). PyTorch's semantics and defaults.
 *
 * @module
 */

/** A schedule maps training progress to a learning rate. */
export interface LrSchedule {
  /** Schedule name, for logs. */
  readonly name: string;
  /** The learning rate for `step` (0-based) of `epoch` (0-based). */
  lr(baseLr: number, epoch: number, step: number, stepsPerEpoch: number): number;
  /** Sees the monitored metric after each epoch (ReduceLROnPlateau acts on it). */
  observe?(metric: number): void;
  /** State to checkpoint and restore. */
  state?(): Record<string, number>;
  /** Restores state saved by `state()`. */
  restore?(state: Record<string, number>): void;
}

/**
 * StepLR: multiply by `gamma` every `stepSize` epochs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepLR } from "./schedules.ts";
 * assert.ok(Math.abs(stepLR({ stepSize: 2 }).lr(1, 5, 0, 10) - 0.01) < 1e-12);
 * ```
 */
export function stepLR(options: { stepSize: number; gamma?: number }): LrSchedule {
  const gamma = options.gamma ?? 0.1;
  return {
    name: "step",
    lr: (base, epoch) => base * gamma ** Math.floor(epoch / options.stepSize),
  };
}

/**
 * MultiStepLR: multiply by `gamma` at each milestone epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiStepLR } from "./schedules.ts";
 * const schedule = multiStepLR({ milestones: [3, 6], gamma: 0.5 });
 * assert.deepEqual([0, 3, 6].map((e) => schedule.lr(1, e, 0, 1)), [1, 0.5, 0.25]);
 * ```
 */
export function multiStepLR(
  options: { milestones: readonly number[]; gamma?: number },
): LrSchedule {
  const gamma = options.gamma ?? 0.1;
  return {
    name: "multistep",
    lr: (base, epoch) => base * gamma ** options.milestones.filter((m) => epoch >= m).length,
  };
}

/**
 * Cosine annealing to `minLr` over `epochs`, after a linear warmup from 0 over `warmupEpochs`;
 * updated every step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosineLR } from "./schedules.ts";
 * const schedule = cosineLR({ epochs: 10, warmupEpochs: 1 });
 * assert.equal(schedule.lr(1, 0, 50, 100), 0.5); // halfway through warmup
 * assert.ok(Math.abs(schedule.lr(1, 10, 0, 100)) < 1e-12); // the end
 * ```
 */
export function cosineLR(
  options: { epochs: number; warmupEpochs?: number; minLr?: number },
): LrSchedule {
  const warmup = options.warmupEpochs ?? 0;
  const minLr = options.minLr ?? 0;
  return {
    name: "cosine",
    lr(base, epoch, step, stepsPerEpoch) {
      const t = epoch + step / stepsPerEpoch;
      if (t < warmup) return (base * t) / warmup;
      const progress = Math.min(1, (t - warmup) / Math.max(1e-12, options.epochs - warmup));
      return minLr + (base - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    },
  };
}

/** Options for {@linkcode reduceLROnPlateau}; defaults are PyTorch's. */
export interface PlateauOptions {
  /** `min` for a loss, `max` for an accuracy. Default: `min`. */
  mode?: "min" | "max";
  /** Multiplier on a plateau. Default: 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default: 10. */
  patience?: number;
  /** Relative improvement that counts. Default: 1e-4. */
  threshold?: number;
  /** Floor for the learning rate. Default: 0. */
  minLr?: number;
}

/**
 * ReduceLROnPlateau: multiply by `factor` once the monitored metric has not improved for
 * `patience` epochs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reduceLROnPlateau } from "./schedules.ts";
 * const schedule = reduceLROnPlateau({ patience: 1 });
 * for (const loss of [1, 0.5, 0.6, 0.7]) schedule.observe!(loss);
 * assert.ok(Math.abs(schedule.lr(1, 4, 0, 1) - 0.1) < 1e-12);
 * ```
 */
export function reduceLROnPlateau(options: PlateauOptions = {}): LrSchedule {
  const { mode = "min", factor = 0.1, patience = 10, threshold = 1e-4, minLr = 0 } = options;
  let scale = 1;
  let best = mode === "min" ? Infinity : -Infinity;
  let bad = 0;
  let lastBase = 0;
  return {
    name: "plateau",
    lr(base) {
      lastBase = base;
      return Math.max(minLr, base * scale);
    },
    observe(metric) {
      const better = mode === "min"
        ? metric < best * (1 - threshold)
        : metric > best * (1 + threshold);
      if (better) {
        best = metric;
        bad = 0;
      } else if (++bad > patience) {
        if (lastBase === 0 || lastBase * scale * factor >= minLr) scale *= factor;
        bad = 0;
      }
    },
    state: () => ({ scale, best, bad }),
    restore(state) {
      ({ scale, best, bad } = state as { scale: number; best: number; bad: number });
    },
  };
}
