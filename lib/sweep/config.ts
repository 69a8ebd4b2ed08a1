/**
 * A sweep's settings: the search space, the strategy, the trial budget, the objective and the
 * seed, checked in one place before any trial starts.
 *
 * @module
 */
import { checkSpace, type ParamValue, type SearchSpace } from "./space.ts";

/**
 * How trials are chosen: every combination of lists (`grid`), seeded draws (`random`), or draws
 * steered by the finished trials (`tpe`, a Tree-structured Parzen Estimator).
 */
export type SweepStrategy = "grid" | "random" | "tpe";

/** What a sweep optimises: a `metrics.jsonl` column's best value over a trial's epochs. */
export interface SweepObjective {
  /** A metrics.jsonl key such as `val_accuracy` or `val_loss`. Default: `val_accuracy`. */
  metric: string;
  /** `max` or `min`. Default: `max` (`min` for a metric ending in `loss`). */
  direction: "max" | "min";
}

/** Everything a sweep needs; {@linkcode resolveSweepConfig} fills the gaps. */
export interface SweepConfig {
  /** Sweep name: trials go to `<out>/<name>/<trial>/`. */
  name: string;
  /** Parent folder of sweeps. Default: `runs`. */
  out: string;
  /** Default: `random`. */
  strategy: SweepStrategy;
  /** Train flags (kebab-case) to their values or ranges. */
  space: SearchSpace;
  /** Train flags every trial shares (`{"epochs": 1}`). */
  fixed: Record<string, ParamValue>;
  /** Trial budget; for grid, at most the grid's size (0: the whole grid). Default: 8. */
  trials: number;
  /** Metric and direction. */
  objective: SweepObjective;
  /** Seeds the random draws. Default: 0. */
  seed: number;
  /** Trials that train at once on this machine. Default: 1. */
  parallel: number;
}

/** A sweep setting that cannot be used; the message names it. */
export class SweepConfigError extends Error {
  /** Always `SweepConfigError`. */
  override name = "SweepConfigError";
}

function positiveInt(key: string, value: unknown, min: number): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
    throw new SweepConfigError(
      `${key}: expected an integer ≥ ${min}, found ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * Checks a sweep's settings (from a JSON file and flags) and fills the defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSweepConfig } from "./config.ts";
 * const config = resolveSweepConfig({ name: "lr", space: { lr: { log_uniform: [1e-4, 1e-2] } } });
 * assert.deepEqual(config.objective, { metric: "val_accuracy", direction: "max" });
 * assert.throws(() => resolveSweepConfig({ name: "x", space: {}, strategy: "bayes" }), /strategy/);
 * ```
 */
export function resolveSweepConfig(raw: Record<string, unknown>): SweepConfig {
  const known = [
    "name",
    "out",
    "strategy",
    "space",
    "fixed",
    "trials",
    "objective",
    "metric",
    "direction",
    "seed",
    "parallel",
  ];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new SweepConfigError(`unknown sweep setting '${key}'`);
  }
  const strategy = raw.strategy ?? "random";
  if (strategy !== "grid" && strategy !== "random" && strategy !== "tpe") {
    throw new SweepConfigError(
      `strategy: expected grid, random or tpe, found ${JSON.stringify(strategy)}`,
    );
  }
  const name = raw.name;
  if (typeof name !== "string" || !/^[\w.-]+$/.test(name)) {
    throw new SweepConfigError(
      `name: expected letters, digits, '.', '_' or '-', found ${JSON.stringify(name)}`,
    );
  }
  const space = raw.space;
  if (typeof space !== "object" || space === null || Array.isArray(space)) {
    throw new SweepConfigError("space: expected an object of train flags");
  }
  try {
    checkSpace(space as SearchSpace);
  } catch (error) {
    throw new SweepConfigError(`space: ${(error as Error).message}`);
  }
  const fixed = raw.fixed ?? {};
  if (typeof fixed !== "object" || fixed === null || Array.isArray(fixed)) {
    throw new SweepConfigError("fixed: expected an object of train flags");
  }
  const objectiveRaw = (raw.objective ?? {}) as Record<string, unknown>;
  const metric = String(objectiveRaw.metric ?? raw.metric ?? "val_accuracy");
  const direction = objectiveRaw.direction ?? raw.direction ??
    (metric.endsWith("loss") ? "min" : "max");
  if (direction !== "max" && direction !== "min") {
    throw new SweepConfigError(
      `direction: expected max or min, found ${JSON.stringify(direction)}`,
    );
  }
  return {
    name,
    out: String(raw.out ?? "runs"),
    strategy,
    space: space as SearchSpace,
    fixed: fixed as Record<string, ParamValue>,
    trials: positiveInt(
      "trials",
      raw.trials ?? (strategy === "grid" ? 0 : 8),
      strategy === "grid" ? 0 : 1,
    ),
    objective: { metric, direction },
    seed: positiveInt("seed", raw.seed ?? 0, 0),
    parallel: positiveInt("parallel", raw.parallel ?? 1, 1),
  };
}
