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

Deno.test("report: a Samples grid with labels, Grad-CAM overlays under a CSS-only toggle", () => {
  const confusion = Int32Array.from([1, 1, 0, 2]);
  const pixel = (v: number) => ({
    width: 2,
    height: 2,
    channels: 3 as const,
    data: new Uint8Array(12).fill(v),
  });
  const base = {
    title: "samples",
    history: [],
    classes: ["ant", "bee"],
    confusion,
    report: classificationReport(confusion, ["ant", "bee"]),
    loss: 0.3,
  };
  const html = renderReport({
    ...base,
    misclassified: [
      {
        source: "#0",
        truth: 0,
        predicted: 1,
        confidence: 0.9,
        thumbnail: pixel(9),
        overlay: pixel(200),
      },
      { source: "#1", truth: 0, predicted: 1, confidence: 0.6, thumbnail: pixel(9) },
    ],
    samples: {
      images: [{ image: pixel(1), label: 1 }, { image: pixel(2), label: 0 }, {
        image: pixel(3),
        label: 1,
      }],
      caption: "first batch <augmented>",
    },
  });
  assert.match(html, /<h2>Samples<\/h2>\n<p class="sub">first batch &#60;augmented&#62;<\/p>/);
  const samples = [
    ...html.matchAll(
      /<figure class="sample"><img[^>]*src="data:image\/png;base64,[^"]+"><figcaption>(\w+)</g,
    ),
  ]
    .map((m) => m[1]);
  assert.deepEqual(samples, ["bee", "ant", "bee"]);
  assert.equal(html.match(/<img class="cam" alt="Grad-CAM of bee"/g)?.length, 1);
  assert.match(html, /<input type="checkbox" id="cam-toggle" checked><label for="cam-toggle">/);
  assert.match(html, /#cam-toggle:checked~\.grid \.cam\{display:block\}/);
  assert.ok(html.indexOf("<h2>Samples") < html.indexOf("<h2>Confusion matrix"));
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/); // still self-contained

  // No overlays (a model Grad-CAM cannot explain), no samples: no toggle, no section.
  const plain = renderReport({
    ...base,
    misclassified: [{ source: "#0", truth: 0, predicted: 1, confidence: 0.9, thumbnail: pixel(9) }],
  });
  assert.doesNotMatch(plain, /cam-toggle"|<h2>Samples/);
});
