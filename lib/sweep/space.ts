/**
 * Search spaces over `deno task train` flags: lists of values, uniform and log-uniform ranges,
 * with grid enumeration and seeded random sampling.
 *
 * @module
 */

/** One value a trial can give a train flag. */
export type ParamValue = string | number | boolean;

/** How one flag varies: a list of values, or a numeric range (`int_uniform` rounds). */
export type ParamSpec =
  | readonly ParamValue[]
  | { readonly uniform: readonly [number, number] }
  | { readonly log_uniform: readonly [number, number] }
  | { readonly int_uniform: readonly [number, number] };

/** Train flag names (kebab-case, as on the command line) to how they vary. */
export type SearchSpace = Record<string, ParamSpec>;

/** One trial's values, by train flag name. */
export type TrialParams = Record<string, ParamValue>;

/** A search space that cannot be used: the message names the flag and what was wrong. */
export class SearchSpaceError extends Error {
  /** Always `SearchSpaceError`. */
  override name = "SearchSpaceError";
}

/**
 * A deterministic generator of floats in [0, 1) (mulberry32) for a seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "./space.ts";
 * assert.equal(seededRandom(3)(), seededRandom(3)());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rangeOf(name: string, spec: ParamSpec): [string, number, number] | null {
  if (Array.isArray(spec)) {
    if (spec.length === 0) throw new SearchSpaceError(`${name}: an empty list of values`);
    return null;
  }
  const entries = Object.entries(spec as Record<string, unknown>);
  const [kind, bounds] = entries[0] ?? [];
  if (
    entries.length !== 1 || !["uniform", "log_uniform", "int_uniform"].includes(kind as string) ||
    !Array.isArray(bounds) || bounds.length !== 2 ||
    !bounds.every((b) => typeof b === "number" && Number.isFinite(b)) || bounds[0] > bounds[1]
  ) {
    throw new SearchSpaceError(
      `${name}: expected a list or {uniform|log_uniform|int_uniform: [low, high]}, found ${
        JSON.stringify(spec)
      }`,
    );
  }
  if (kind === "log_uniform" && bounds[0] <= 0) {
    throw new SearchSpaceError(`${name}: log_uniform needs positive bounds, found ${bounds[0]}`);
  }
  return [kind as string, bounds[0], bounds[1]];
}

/**
 * Checks every entry of a search space; throws a {@linkcode SearchSpaceError} naming the first bad one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSpace } from "./space.ts";
 * assert.throws(() => checkSpace({ lr: { log_uniform: [0, 1] } }), /positive bounds/);
 * ```
 */
export function checkSpace(space: SearchSpace): void {
  if (Object.keys(space).length === 0) throw new SearchSpaceError("the search space is empty");
  for (const [name, spec] of Object.entries(space)) rangeOf(name, spec);
}

/**
 * One random point of the space, drawn with `random`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleSpace, seededRandom } from "./space.ts";
 * const point = sampleSpace({ lr: { log_uniform: [1e-4, 1e-2] }, "batch-size": [32, 64] }, seededRandom(0));
 * assert.ok((point.lr as number) >= 1e-4 && (point.lr as number) <= 1e-2);
 * assert.ok([32, 64].includes(point["batch-size"] as number));
 * ```
 */
export function sampleSpace(space: SearchSpace, random: () => number): TrialParams {
  const point: TrialParams = {};
  for (const [name, spec] of Object.entries(space)) {
    const range = rangeOf(name, spec);
    if (range === null) {
      const values = spec as readonly ParamValue[];
      point[name] = values[Math.min(values.length - 1, Math.floor(random() * values.length))];
      continue;
    }
    const [kind, low, high] = range;
    const u = random();
    if (kind === "log_uniform") {
      point[name] = Number(
        Math.exp(Math.log(low) + u * (Math.log(high) - Math.log(low))).toPrecision(4),
      );
    } else if (kind === "int_uniform") {
      point[name] = Math.min(high, Math.floor(low + u * (high - low + 1)));
    } else point[name] = Number((low + u * (high - low)).toPrecision(4));
  }
  return point;
}

/**
 * Every combination of a space whose entries are all lists, in order (the last flag varies fastest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gridOf } from "./space.ts";
 * assert.deepEqual(gridOf({ lr: [0.1, 0.01], seed: [0] }), [{ lr: 0.1, seed: 0 }, { lr: 0.01, seed: 0 }]);
 * ```
 */
export function gridOf(space: SearchSpace): TrialParams[] {
  checkSpace(space);
  let points: TrialParams[] = [{}];
  for (const [name, spec] of Object.entries(space)) {
    if (!Array.isArray(spec)) {
      throw new SearchSpaceError(`${name}: grid search needs a list of values, found a range`);
    }
    points = points.flatMap((point) =>
      (spec as readonly ParamValue[]).map((value) => ({ ...point, [name]: value }))
    );
  }
  return points;
}
