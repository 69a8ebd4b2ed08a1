/**
 * How well a model does: top-k accuracy, the confusion matrix, per-class precision / recall / F1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport, confusionMatrix } from "./mod.ts";
 * const report = classificationReport(confusionMatrix([1, 0], [1, 0], 2), ["cat", "dog"]);
 * assert.equal(report.macro.f1, 1);
 * ```
 *
 * @module
 */
export * from "./classification.ts";
