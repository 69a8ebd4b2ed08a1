/**
 * The run report: one self-contained HTML file (no scripts, no external requests) with the loss
 * and accuracy curves as inline SVG, the class distribution of both splits as inline SVG bars, a
 * grid of training samples as the model saw them (after augmentation), the confusion matrix as a
 * heatmap, the per-class table and a grid of misclassified images as embedded PNG thumbnails,
 * with Grad-CAM overlays that a checkbox shows or hides (CSS only: `:checked`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import pngjs from "pngjs";
import type { RawImage } from "../decode/decode.ts";
import type { ClassificationReport } from "../metrics/classification.ts";
import type { EpochLog } from "../train/fit.ts";

/** A misclassified sample with its thumbnail. */
export interface ReportSample {
  /** Where it came from: a file path or `#index`. */
  source: string;
  /** True class index. */
  truth: number;
  /** Predicted class index. */
  predicted: number;
  /** Probability of the predicted class. */
  confidence: number;
  /** Small uint8 image (grey or RGB) to embed. */
  thumbnail?: RawImage;
  /**
   * The thumbnail with the Grad-CAM heatmap of the predicted class blended in (same size as
   * `thumbnail`), drawn over it while the report's overlay checkbox is ticked.
   */
  overlay?: RawImage;
}

/** A training image as the model saw it, for the report's "Samples" grid. */
export interface ReportTrainingSample {
  /** The augmented image back as uint8 pixels (normalisation undone). */
  image: RawImage;
  /** Its class index. */
  label: number;
}

/** The report's "Samples" section. */
export interface ReportSamples {
  /** The images, in batch order. */
  images: ReportTrainingSample[];
  /** One line above the grid (where the images come from). */
  caption?: string;
}

/** What {@linkcode renderReport} draws. */
export interface ReportData {
  /** The page heading. */
  title: string;
  /** Lines under the title (dataset, model, backend…). */
  subtitle?: string[];
  /** One entry per epoch, for the curves. */
  history: EpochLog[];
  /** Marked on the curves (0-based epoch). */
  bestEpoch?: number | null;
  /** Class names by label. */
  classes: readonly string[];
  /** `matrix[truth * n + predicted]`. */
  confusion: Int32Array | number[];
  /** Per-class precision, recall and F1 with averages. */
  report: ClassificationReport;
  /** Loss on the evaluated split. */
  loss: number;
  /** Top-k accuracy and its k. */
  topK?: { k: number; accuracy: number };
  /** Mistakes to show as thumbnails. */
  misclassified: ReportSample[];
  /** The resolved configuration, shown at the end. */
  config?: unknown;
  /** Samples per class (by label) of each split, drawn as bars of each split's shares. */
  classDistribution?: { train: readonly number[]; validation: readonly number[] };
  /** Training images after augmentation, shown as the "Samples" grid. */
  samples?: ReportSamples;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * PNG bytes of a uint8 grey or RGB image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePng } from "./report.ts";
 * const png = encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) });
 * assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
 * ```
 */
export function encodePng(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  const png = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) png.data[i * 4 + c] = data[i * channels + (channels === 1 ? 0 : c)];
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(pngjs.PNG.sync.write(png as unknown as pngjs.PNG));
}

interface Series {
  name: string;
  color: string;
  values: (number | undefined)[];
  dashed?: boolean;
}

/** A line chart over epochs (1-based on the axis), with axes, ticks and a legend. */
function lineChart(title: string, series: Series[], bestEpoch?: number | null): string {
  const [width, height] = [460, 260];
  const pad = { left: 52, right: 16, top: 30, bottom: 40 };
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  if (all.length === 0) return "";
  let [low, high] = [Math.min(...all), Math.max(...all)];
  if (high - low < 1e-9) [low, high] = [low - 0.5, high + 0.5];
  const margin = (high - low) * 0.08;
  [low, high] = [low - margin, high + margin];
  const x = (epoch: number) =>
    pad.left + (epochs === 1 ? 0.5 : epoch / (epochs - 1)) * (width - pad.left - pad.right);
  const y = (value: number) =>
    pad.top + (1 - (value - low) / (high - low)) * (height - pad.top - pad.bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
      escape(title)
    }">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escape(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = low + ((high - low) * i) / 4;
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(value)}" y2="${
        y(value)
      }" class="grid"/>`,
      `<text x="${pad.left - 6}" y="${y(value) + 4}" text-anchor="end">${
        value.toPrecision(3)
      }</text>`,
    );
  }
  const tickEvery = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 0; e < epochs; e += tickEvery) {
    parts.push(
      `<text x="${x(e)}" y="${height - pad.bottom + 16}" text-anchor="middle">${e + 1}</text>`,
    );
  }
  parts.push(
    `<text x="${(pad.left + width - pad.right) / 2}" y="${
      height - 6
    }" text-anchor="middle">epoch</text>`,
  );
  if (bestEpoch !== undefined && bestEpoch !== null && bestEpoch < epochs) {
    parts.push(
      `<line x1="${x(bestEpoch)}" x2="${x(bestEpoch)}" y1="${pad.top}" y2="${
        height - pad.bottom
      }" class="best"/>`,
    );
  }
  series.forEach((s, index) => {
    const points = s.values.flatMap((v, e) => v === undefined ? [] : [`${x(e)},${y(v)}`]);
    if (points.length === 0) return;
    const dash = s.dashed ? ` stroke-dasharray="5 3"` : "";
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${
        points.join(" ")
      }"/>`,
      ...points.map((p) => {
        const [cx, cy] = p.split(",");
        return `<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`;
      }),
      `<rect x="${pad.left + 10 + index * 110}" y="${
        pad.top + 4
      }" width="14" height="3" fill="${s.color}"/>`,
      `<text x="${pad.left + 28 + index * 110}" y="${pad.top + 9}">${escape(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/** Row-normalised heatmap: a cell's shade is the share of that true class predicted there. */
function heatmap(classes: readonly string[], confusion: ArrayLike<number>): string {
  const n = classes.length;
  const compact = n > 20;
  const rows = [
    `<table class="heatmap${compact ? " compact" : ""}"><thead><tr><th>true \\ predicted</th>`,
    ...classes.map((name) => `<th title="${escape(name)}">${compact ? "" : escape(name)}</th>`),
    "</tr></thead><tbody>",
  ];
  for (let t = 0; t < n; t++) {
    let total = 0;
    for (let p = 0; p < n; p++) total += confusion[t * n + p];
    rows.push(`<tr><th>${escape(classes[t])}</th>`);
    for (let p = 0; p < n; p++) {
      const count = confusion[t * n + p];
      const share = total === 0 ? 0 : count / total;
      const hue = t === p ? "34,139,84" : "200,50,50";
      const color = share > 0.55 ? "#fff" : "#222";
      rows.push(
        `<td style="background:rgba(${hue},${share.toFixed(3)});color:${color}" title="${
          escape(classes[t])
        } → ${escape(classes[p])}: ${count}">${compact ? "" : count}</td>`,
      );
    }
    rows.push("</tr>");
  }
  rows.push("</tbody></table>");
  return rows.join("");
}

function classTable(report: ClassificationReport): string {
  const pct = (v: number) => (v * 100).toFixed(1);
  const rows = report.perClass.map((c) =>
    `<tr><td>${escape(c.name)}</td><td>${pct(c.precision)}</td><td>${pct(c.recall)}</td><td>${
      pct(c.f1)
    }</td><td>${c.support}</td></tr>`
  );
  const support = report.perClass.reduce((n, c) => n + c.support, 0);
  for (
    const [name, avg] of [["macro avg", report.macro], ["weighted avg", report.weighted]] as const
  ) {
    rows.push(
      `<tr class="avg"><td>${name}</td><td>${pct(avg.precision)}</td><td>${
        pct(avg.recall)
      }</td><td>${pct(avg.f1)}</td><td>${support}</td></tr>`,
    );
  }
  return `<table class="classes"><thead><tr><th>class</th><th>precision %</th><th>recall %</th><th>F1 %</th><th>support</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

/** Horizontal bars, one group per class, one bar per split, with the counts written beside. */
function distributionChart(
  classes: readonly string[],
  splits: { train: readonly number[]; validation: readonly number[] },
): string {
  const series = [
    { name: "train", color: "#1f77b4", counts: splits.train },
    { name: "validation", color: "#ff7f0e", counts: splits.validation },
  ];
  const bar = 9;
  const group = bar * series.length + 8;
  const left = Math.min(180, 16 + 7 * Math.max(4, ...classes.map((c) => c.length)));
  const width = 640;
  const plot = width - left - 110;
  const top = 30;
  const height = top + group * classes.length + 10;
  // Bars are each split's shares (so splits of different sizes compare), labelled with counts.
  const totals = series.map((s) => s.counts.reduce((a, b) => a + b, 0) || 1);
  const max = Math.max(1e-9, ...series.flatMap((s, k) => s.counts.map((n) => n / totals[k])));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="class distribution">`,
    `<text class="title" x="8" y="16">class distribution</text>`,
  ];
  series.forEach((s, k) => {
    const x = 160 + 150 * k; // right of the title
    parts.push(
      `<rect x="${x}" y="8" width="10" height="10" fill="${s.color}"/><text x="${
        x + 14
      }" y="17">${s.name} (${s.counts.reduce((a, b) => a + b, 0)})</text>`,
    );
  });
  classes.forEach((name, c) => {
    const y = top + c * group;
    parts.push(
      `<text x="${left - 6}" y="${y + group / 2}" text-anchor="end">${escape(name)}</text>`,
    );
    series.forEach((s, k) => {
      const count = s.counts[c] ?? 0;
      const share = count / totals[k];
      const w = (share / max) * plot;
      const by = y + k * bar;
      parts.push(
        `<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${
          bar - 1
        }" fill="${s.color}">` +
          `<title>${escape(name)} ${s.name}: ${count}</title></rect>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${by + bar - 1}">${count} (${
          (share * 100).toFixed(1)
        }%)</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("");
}

const dataUrl = (image: RawImage) =>
  `data:image/png;base64,${Buffer.from(encodePng(image)).toString("base64")}`;

function samplesGrid(classes: readonly string[], samples: ReportSamples): string {
  if (samples.images.length === 0) return "<p>No samples.</p>";
  const cells = samples.images.map(({ image, label }, i) => {
    const name = escape(classes[label] ?? `#${label}`);
    return `<figure class="sample"><img alt="sample ${i}: ${name}" src="${
      dataUrl(image)
    }"><figcaption>${name}</figcaption></figure>`;
  });
  const caption = samples.caption ? `<p class="sub">${escape(samples.caption)}</p>\n` : "";
  return `${caption}<div class="grid samples">${cells.join("")}</div>`;
}

function misclassifiedGrid(classes: readonly string[], samples: ReportSample[]): string {
  if (samples.length === 0) return "<p>No misclassified samples.</p>";
  const overlays = samples.some((s) => s.thumbnail && s.overlay);
  const cells = samples.map((s) => {
    const image = s.thumbnail
      ? `<div class="thumb"><img alt="${escape(s.source)}" src="${dataUrl(s.thumbnail)}">${
        s.overlay
          ? `<img class="cam" alt="Grad-CAM of ${escape(classes[s.predicted])}" src="${
            dataUrl(s.overlay)
          }">`
          : ""
      }</div>`
      : `<div class="noimg">no image</div>`;
    return `<figure title="${escape(s.source)}">${image}<figcaption><span class="truth">${
      escape(classes[s.truth])
    }</span> → <span class="pred">${escape(classes[s.predicted])}</span> ${
      (s.confidence * 100).toFixed(0)
    }%</figcaption></figure>`;
  });
  const toggle = overlays
    ? `<input type="checkbox" id="cam-toggle" checked><label for="cam-toggle">Grad-CAM overlay ` +
      `of the predicted class</label>\n`
    : "";
  return `${toggle}<div class="grid misclassified">${cells.join("")}</div>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}.card b{display:block;font-size:20px}
.charts{display:flex;gap:16px;flex-wrap:wrap}svg{background:#fafafa;border:1px solid #e5e5e5}
svg text{font-size:11px;fill:#444}svg .title{font-size:13px;font-weight:600}
svg .grid{stroke:#e2e2e2}svg .best{stroke:#999;stroke-dasharray:2 3}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:right}
.classes td:first-child,.classes th:first-child{text-align:left}.classes tr.avg{font-weight:600;border-top:1px solid #ccc}
.heatmap td{width:34px;height:26px;text-align:center;border:1px solid #eee;font-size:12px}
.heatmap th{font-size:12px;font-weight:500}.heatmap thead th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left}
.heatmap.compact td{width:8px;height:8px;padding:0}
.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;width:96px;text-align:center;font-size:11px}
figure img{width:96px;height:96px;object-fit:cover;image-rendering:pixelated;border:1px solid #ccc}
.noimg{width:96px;height:96px;background:#eee}.thumb{position:relative;width:98px;height:98px}
.thumb .cam{position:absolute;left:0;top:0;display:none}#cam-toggle:checked~.grid .cam{display:block}
#cam-toggle{margin:0 6px 10px 0}.truth{color:#227a4f}.pred{color:#b33}
pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px}`;

/**
 * Renders the report as one HTML document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classificationReport } from "../metrics/classification.ts";
 * import { renderReport } from "./report.ts";
 * const confusion = Int32Array.from([3, 1, 0, 4]);
 * const html = renderReport({
 *   title: "demo",
 *   history: [{ epoch: 0, loss: 1, accuracy: 0.5, lr: 1e-3, imagesPerSecond: 10, seconds: 1 }],
 *   classes: ["ant", "bee"],
 *   confusion,
 *   report: classificationReport(confusion, ["ant", "bee"]),
 *   loss: 0.4,
 *   misclassified: [{ source: "#1", truth: 0, predicted: 1, confidence: 0.7 }],
 * });
 * assert.match(html, /<svg/);
 * assert.match(html, /87\.5%/); // accuracy 7/8
 * assert.match(html, /balanced accuracy/);
 * ```
 */
export function renderReport(data: ReportData): string {
  const h = data.history;
  const pct = (v: number | undefined) => v === undefined ? "–" : `${(v * 100).toFixed(1)}%`;
  const cards: [string, string][] = [
    ["accuracy", pct(data.report.accuracy)],
    ...(data.topK ? [[`top-${data.topK.k}`, pct(data.topK.accuracy)] as [string, string]] : []),
    ["loss", data.loss.toFixed(4)],
    ["macro F1", pct(data.report.macro.f1)],
    ...(data.report.balancedAccuracy === undefined
      ? []
      : [["balanced accuracy", pct(data.report.balancedAccuracy)] as [string, string]]),
    ["epochs", String(h.length)],
    ...(data.bestEpoch !== undefined && data.bestEpoch !== null
      ? [["best epoch", String(data.bestEpoch + 1)] as [string, string]]
      : []),
  ];
  const epochs = h.map((log) => log.epoch);
  const offset = epochs.length > 0 ? epochs[0] : 0;
  const best = data.bestEpoch === undefined || data.bestEpoch === null
    ? null
    : data.bestEpoch - offset;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(data.title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>${escape(data.title)}</h1>
${(data.subtitle ?? []).map((line) => `<p class="sub">${escape(line)}</p>`).join("\n")}
<div class="cards">${
    cards.map(([name, value]) => `<div class="card">${escape(name)}<b>${escape(value)}</b></div>`)
      .join("")
  }</div>
<h2>Training curves</h2>
<div class="charts">
${
    lineChart("loss", [
      { name: "train", color: "#1f77b4", values: h.map((l) => l.loss) },
      { name: "validation", color: "#ff7f0e", values: h.map((l) => l.valLoss), dashed: true },
    ], best)
  }
${
    lineChart("accuracy", [
      { name: "train", color: "#1f77b4", values: h.map((l) => l.accuracy) },
      { name: "validation", color: "#ff7f0e", values: h.map((l) => l.valAccuracy), dashed: true },
    ], best)
  }
</div>
${
    data.classDistribution === undefined
      ? ""
      : `<h2>Class distribution</h2>\n${distributionChart(data.classes, data.classDistribution)}`
  }
${data.samples === undefined ? "" : `<h2>Samples</h2>\n${samplesGrid(data.classes, data.samples)}`}
<h2>Confusion matrix</h2>
${heatmap(data.classes, data.confusion)}
<h2>Per-class metrics</h2>
${classTable(data.report)}
<h2>Misclassified (${data.misclassified.length} shown)</h2>
${misclassifiedGrid(data.classes, data.misclassified)}
${
    data.config === undefined
      ? ""
      : `<h2>Configuration</h2><pre>${escape(JSON.stringify(data.config, null, 2))}</pre>`
  }
</body></html>
`;
}
