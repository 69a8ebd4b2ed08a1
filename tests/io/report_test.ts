import assert from "node:assert/strict";
import { classificationReport, renderReport } from "../../mod.ts";

Deno.test("report: class distribution of both splits as inline SVG bars, balanced accuracy card", () => {
  const confusion = Int32Array.from([9, 0, 1, 0]); // the rare class is never right
  const html = renderReport({
    title: "imbalanced",
    history: [],
    classes: ["common", "rare"],
    confusion,
    report: classificationReport(confusion, ["common", "rare"]),
    loss: 0.3,
    misclassified: [],
    classDistribution: { train: [95, 5], validation: [9, 1] },
  });
  assert.match(html, /<h2>Class distribution<\/h2>\n<svg/);
  assert.match(html, /<title>rare train: 5<\/title>/);
  assert.match(html, /<title>common validation: 9<\/title>/);
  assert.match(html, /train \(100\)/);
  assert.match(html, /balanced accuracy<b>50\.0%/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/); // nothing to fetch
});
