/**
 * Training runs as the CLI does them: a checked configuration, datasets and pipelines from it,
 * and a run directory with checkpoints, metrics, TensorBoard scalars, the export and a report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameRun, resolveTrainConfig, runDirOf } from "./mod.ts";
 * const config = nameRun(resolveTrainConfig({ dataset: "mnist", name: "digits" }));
 * assert.equal(runDirOf(config), "runs/digits");
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./data.ts";
export * from "./explain.ts";
export * from "./train_run.ts";
export * from "./trained.ts";
