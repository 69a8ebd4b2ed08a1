/**
 * Tree-structured Parzen Estimator (Bergstra et al., 2011): after a few random trials, each new
 * trial's values are drawn where finished trials did well, by the ratio of two densities: one over
 * the best quarter of trials, one over the rest.
 *
 * @module
 */
import {
  type ParamSpec,
  type ParamValue,
  sampleSpace,
  type SearchSpace,
  type TrialParams,
} from "./space.ts";

/** A finished trial as TPE sees it. */
export interface TpeObservation {
  /** The values the trial ran with. */
  params: TrialParams;
  /** The metric the sweep optimizes, as the trial reached it. */
  objective: number;
}

/** Options of {@linkcode proposeTpe}. */
export interface TpeOptions {
  /** Random trials before the model is used. Default: 3. */
  startup?: number;
  /** Fraction of trials counted as good. Default: 0.25. */
  gamma?: number;
  /** Candidates drawn from the good density and scored. Default: 24. */
  candidates?: number;
}

type Range = { kind: "uniform" | "log_uniform" | "int_uniform"; lo: number; hi: number };

function rangeOf(spec: ParamSpec): Range | null {
  if (Array.isArray(spec)) return null;
  const [kind, [lo, hi]] = Object.entries(spec)[0] as [Range["kind"], [number, number]];
  return kind === "log_uniform"
    ? { kind, lo: Math.log(lo), hi: Math.log(hi) }
    : { kind, lo, hi: kind === "int_uniform" ? hi + 1 : hi };
}

const toAxis = (range: Range, value: ParamValue) =>
  range.kind === "log_uniform" ? Math.log(value as number) : (value as number);

function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A Parzen density on one axis: Gaussians at the points plus a uniform prior. */
function parzen(range: Range, points: number[]) {
  const width = range.hi - range.lo || 1;
  const sigma = width * Math.max(0.08, 1 / (points.length + 1));
  const weight = 1 / (points.length + 1);
  return {
    density: (x: number) =>
      weight / width +
      points.reduce(
        (sum, mu) =>
          sum +
          weight * Math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * Math.sqrt(2 * Math.PI)),
        0,
      ),
    sample: (random: () => number) => {
      const i = Math.floor(random() * (points.length + 1));
      if (i === points.length) return range.lo + random() * width;
      return Math.min(range.hi, Math.max(range.lo, points[i] + sigma * normal(random)));
    },
  };
}

function categorical(values: readonly ParamValue[], seen: ParamValue[]) {
  const weights = values.map((v) => 1 + seen.filter((s) => s === v).length);
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    density: (v: ParamValue) => weights[values.indexOf(v)] / total,
    sample: (random: () => number) => {
      let r = random() * total;
      for (let i = 0; i < values.length; i++) {
        r -= weights[i];
        if (r < 0) return values[i];
      }
      return values.at(-1)!;
    },
  };
}

function fromAxis(range: Range, x: number): number {
  if (range.kind === "log_uniform") return Number(Math.exp(x).toPrecision(4));
  if (range.kind === "int_uniform") return Math.min(range.hi - 1, Math.floor(x));
  return Number(x.toPrecision(4));
}

/**
 * The next trial's values: random for the first `startup` trials, then the candidate with the
 * highest good/bad density ratio.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { proposeTpe, seededRandom } from "./mod.ts";
 * const space = { lr: { log_uniform: [1e-4, 1e-1] } } as const;
 * // Trials near lr = 1e-2 did best: the proposal lands near them.
 * const history = [1e-4, 3e-4, 1e-3, 8e-3, 1e-2, 1.2e-2, 5e-2, 1e-1].map((lr) => ({
 *   params: { lr }, objective: -Math.abs(Math.log10(lr) + 2),
 * }));
 * const lr = proposeTpe(space, history, "max", seededRandom(0)).lr as number;
 * assert.ok(lr > 2e-3 && lr < 5e-2, String(lr));
 * ```
 */
export function proposeTpe(
  space: SearchSpace,
  history: TpeObservation[],
  direction: "max" | "min",
  random: () => number,
  options: TpeOptions = {},
): TrialParams {
  const startup = options.startup ?? 3;
  if (history.length < startup) return sampleSpace(space, random);
  const sorted = [...history].sort((a, b) =>
    direction === "max" ? b.objective - a.objective : a.objective - b.objective
  );
  const nGood = Math.max(1, Math.ceil((options.gamma ?? 0.25) * sorted.length));
  const good = sorted.slice(0, nGood), bad = sorted.slice(nGood);
  const models = Object.entries(space).map(([name, spec]) => {
    const range = rangeOf(spec);
    if (range === null) {
      const values = spec as readonly ParamValue[];
      const l = categorical(values, good.map((o) => o.params[name]));
      const g = categorical(values, bad.map((o) => o.params[name]));
      return {
        name,
        draw: () => l.sample(random),
        score: (v: ParamValue) => Math.log(l.density(v)) - Math.log(g.density(v)),
      };
    }
    const l = parzen(range, good.map((o) => toAxis(range, o.params[name])));
    const g = parzen(range, bad.map((o) => toAxis(range, o.params[name])));
    return {
      name,
      draw: () => fromAxis(range, l.sample(random)),
      score: (v: ParamValue) =>
        Math.log(l.density(toAxis(range, v))) - Math.log(g.density(toAxis(range, v))),
    };
  });
  let best: TrialParams = {};
  let bestScore = -Infinity;
  for (let c = 0; c < (options.candidates ?? 24); c++) {
    const candidate: TrialParams = {};
    let score = 0;
    for (const model of models) {
      candidate[model.name] = model.draw();
      score += model.score(candidate[model.name]);
    }
    if (score > bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
}
