/**
 * Classification metrics on predictions already read back from the backend: top-k accuracy,
 * the confusion matrix, and per-class precision / recall / F1 with macro and weighted averages
 * (scikit-learn's definitions; a class with no predictions has precision 0), and balanced
 * accuracy (the mean recall over the classes present) for imbalanced data.
 *
 * @module
 */

/** Metrics of one class. */
export interface ClassMetrics {
  /** Class name. */
  name: string;
  /** Correct predictions of the class / all predictions of it. */
  precision: number;
  /** Correct predictions of the class / its true samples. */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** True samples of the class. */
  support: number;
}

/** Everything {@linkcode classificationReport} computes. */
export interface ClassificationReport {
  /** Top-1 accuracy over all samples. */
  accuracy: number;
  /** Mean recall over the classes with samples (scikit-learn's `balanced_accuracy_score`). */
  balancedAccuracy: number;
  /** Metrics of each class, by label. */
  perClass: ClassMetrics[];
  /** Unweighted mean over classes. */
  macro: { precision: number; recall: number; f1: number };
  /** Mean over classes weighted by support. */
  weighted: { precision: number; recall: number; f1: number };
}

/**
 * Counts of (true class, predicted class): `matrix[t * numClasses + p]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusionMatrix } from "./classification.ts";
 * const m = confusionMatrix([0, 1, 1], [0, 0, 1], 2);
 * assert.deepEqual([...m], [1, 0, 1, 1]);
 * ```
 */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses: number,
): Int32Array {
  if (truth.length !== predicted.length) {
    throw new RangeError(`${truth.length} labels but ${predicted.length} predictions`);
  }
  const matrix = new Int32Array(numClasses * numClasses);
  for (let i = 0; i < truth.length; i++) matrix[truth[i] * numClasses + predicted[i]]++;
  return matrix;
}

/**
 * Per-class precision, recall and F1, their macro and support-weighted averages, and accuracy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport, confusionMatrix } from "./classification.ts";
 * const report = classificationReport(confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2), ["a", "b"]);
 * assert.equal(report.accuracy, 0.75);
 * assert.equal(report.perClass[1].precision, 2 / 3);
 * assert.equal(report.perClass[0].recall, 0.5);
 * ```
 */
export function classificationReport(
  matrix: Int32Array,
  classes: readonly string[],
): ClassificationReport {
  const k = classes.length;
  let correct = 0;
  let total = 0;
  const perClass: ClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    let predicted = 0;
    let support = 0;
    for (let o = 0; o < k; o++) {
      predicted += matrix[o * k + c];
      support += matrix[c * k + o];
    }
    const tp = matrix[c * k + c];
    correct += tp;
    total += support;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({ name: classes[c], precision, recall, f1, support });
  }
  const average = (weight: (m: ClassMetrics) => number) => {
    const sum = perClass.reduce((s, m) => s + weight(m), 0) || 1;
    const mean = (key: "precision" | "recall" | "f1") =>
      perClass.reduce((s, m) => s + m[key] * weight(m), 0) / sum;
    return { precision: mean("precision"), recall: mean("recall"), f1: mean("f1") };
  };
  return {
    accuracy: total > 0 ? correct / total : 0,
    balancedAccuracy: balancedAccuracy(matrix, k),
    perClass,
    macro: average(() => 1),
    weighted: average((m) => m.support),
  };
}

/**
 * Fraction of rows whose true class is among the `k` highest scores (ties count in the true
 * class's favour only if its score is strictly among the top k).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topKAccuracy } from "./classification.ts";
 * const scores = new Float32Array([0.1, 0.5, 0.4, 0.7, 0.2, 0.1]); // 2 rows × 3 classes
 * assert.equal(topKAccuracy(scores, [2, 1], 3, 1), 0);
 * assert.equal(topKAccuracy(scores, [2, 1], 3, 2), 1);
 * ```
 */
export function topKAccuracy(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  k: number,
): number {
  let hits = 0;
  for (let row = 0; row < labels.length; row++) {
    const base = row * numClasses;
    const target = scores[base + labels[row]];
    let above = 0;
    for (let c = 0; c < numClasses; c++) if (scores[base + c] > target) above++;
    if (above < k) hits++;
  }
  return labels.length > 0 ? hits / labels.length : 0;
}

/**
 * Recall of each class from a confusion matrix (`matrix[t * numClasses + p]`); a class with no
 * true samples has recall 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusionMatrix, perClassRecall } from "./classification.ts";
 * assert.deepEqual(perClassRecall(confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2), 2), [0.5, 1]);
 * ```
 */
export function perClassRecall(matrix: ArrayLike<number>, numClasses: number): number[] {
  const recall: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    let support = 0;
    for (let p = 0; p < numClasses; p++) support += matrix[c * numClasses + p];
    recall.push(support > 0 ? matrix[c * numClasses + c] / support : 0);
  }
  return recall;
}

/**
 * Balanced accuracy: the mean recall over the classes that have true samples (scikit-learn's
 * `balanced_accuracy_score`), so a rare class counts as much as a common one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { balancedAccuracy, confusionMatrix } from "./classification.ts";
 * // 9 of class 0 all right, 1 of class 1 wrong: accuracy 0.9, balanced 0.5.
 * const truth = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
 * assert.equal(balancedAccuracy(confusionMatrix(truth, new Array(10).fill(0), 2), 2), 0.5);
 * ```
 */
export function balancedAccuracy(matrix: ArrayLike<number>, numClasses: number): number {
  const recall = perClassRecall(matrix, numClasses);
  let sum = 0;
  let present = 0;
  for (let c = 0; c < numClasses; c++) {
    let support = 0;
    for (let p = 0; p < numClasses; p++) support += matrix[c * numClasses + p];
    if (support === 0) continue;
    sum += recall[c];
    present++;
  }
  return present > 0 ? sum / present : 0;
}
