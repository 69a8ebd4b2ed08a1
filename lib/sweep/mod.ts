/**
 * Hyperparameter sweeps over `deno task train` flags: grid, seeded random or TPE search, each
 * trial an ordinary run directory under `<out>/<sweep>/<trial>/`, recorded once in
 * `sweep.jsonl`, with `sweep.html` beside it; trials train N at a time in child processes, or
 * through a BullMQ queue (`lib/sweep/queue.ts`) on `deno task worker` processes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planTrials, resolveSweepConfig } from "./mod.ts";
 * const config = resolveSweepConfig({
 *   name: "lr", seed: 1, trials: 3,
 *   space: { lr: { log_uniform: [1e-4, 1e-2] }, "batch-size": [32, 64] },
 * });
 * assert.equal(planTrials(config).length, 3);
 * assert.deepEqual(planTrials(config), planTrials(config));
 * ```
 *
 * @module
 */
export * from "./space.ts";
export * from "./config.ts";
export * from "./trial.ts";
export * from "./sweep.ts";
export * from "./html.ts";
export * from "./tpe.ts";
export * from "./queue_url.ts";
