import assert from "node:assert/strict";
import {
  balancedAccuracy,
  classificationReport,
  confusionMatrix,
  perClassRecall,
} from "../../mod.ts";

// scikit-learn 1.x on the same labels:
//   y_true = [0,0,0,0,0,0,1,1,2,2,2,2]; y_pred = [0,0,0,0,1,2,1,0,2,2,2,1]
//   balanced_accuracy_score -> 0.6944444444444444; recall_score(average=None) -> [2/3, 1/2, 3/4]
const truth = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
const predicted = [0, 0, 0, 0, 1, 2, 1, 0, 2, 2, 2, 1];

Deno.test("balanced accuracy and per-class recall match scikit-learn", () => {
  const matrix = confusionMatrix(truth, predicted, 3);
  assert.deepEqual(perClassRecall(matrix, 3), [4 / 6, 1 / 2, 3 / 4]);
  const expected = (4 / 6 + 1 / 2 + 3 / 4) / 3;
  assert.ok(Math.abs(balancedAccuracy(matrix, 3) - expected) < 1e-12);
  const report = classificationReport(matrix, ["a", "b", "c"]);
  assert.equal(report.balancedAccuracy, balancedAccuracy(matrix, 3));
  assert.equal(report.balancedAccuracy, report.macro.recall); // every class present
});

Deno.test("balanced accuracy leaves out classes without true samples", () => {
  // Class 2 is never true (only predicted): sklearn warns and averages over classes 0 and 1.
  const matrix = confusionMatrix([0, 0, 1, 1], [0, 2, 1, 1], 3);
  assert.equal(balancedAccuracy(matrix, 3), (0.5 + 1) / 2);
  assert.equal(balancedAccuracy(new Int32Array(4), 2), 0);
});
