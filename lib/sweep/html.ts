/**
 * `sweep.html`: a self-contained page with a table of trials sortable by any column (the best
 * highlighted), a parallel-coordinates plot of the values against the objective, and each
 * trial's validation curve, all as inline SVG.
 *
 * @module
 */
import type { SweepConfig } from "./config.ts";
import type { ParamValue } from "./space.ts";
import type { TrialRecord } from "./sweep.ts";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const show = (value: unknown) =>
  typeof value === "number"
    ? (Number.isInteger(value) ? String(value) : value.toPrecision(4))
    : value === undefined || value === null
    ? "-"
    : String(value);

/** An axis: where a value sits between 0 (bottom) and 1 (top). */
function axisOf(
  values: (ParamValue | null)[],
): { at: (v: ParamValue | null) => number; ticks: string[] } {
  const present = values.filter((v): v is ParamValue => v !== null);
  if (present.length > 0 && present.every((v) => typeof v === "number")) {
    const nums = present as number[];
    let lo = Math.min(...nums), hi = Math.max(...nums);
    const log = lo > 0 && hi / lo > 20;
    const f = (v: number) => (log ? Math.log(v) : v);
    [lo, hi] = [f(lo), f(hi)];
    return {
      at: (v) => (v === null ? 0 : hi === lo ? 0.5 : (f(v as number) - lo) / (hi - lo)),
      ticks: [show(Math.min(...nums)), show(Math.max(...nums))],
    };
  }
  const levels = [...new Set(present.map(String))].sort();
  return {
    at: (
      v,
    ) => (v === null
      ? 0
      : levels.length === 1
      ? 0.5
      : levels.indexOf(String(v)) / (levels.length - 1)),
    ticks: [levels[0] ?? "", levels.at(-1) ?? ""],
  };
}

function parallelCoordinates(config: SweepConfig, records: TrialRecord[], best: string | null) {
  const names = [...Object.keys(config.space), config.objective.metric];
  const value = (r: TrialRecord, name: string): ParamValue | null =>
    name === config.objective.metric && !(name in config.space)
      ? r.objective
      : r.params[name] ?? null;
  const axes = names.map((name) => axisOf(records.map((r) => value(r, name))));
  const width = 160 * names.length, height = 260, top = 30, bottom = 230;
  const x = (i: number) => 60 + i * 160;
  const y = (t: number) => bottom - t * (bottom - top);
  const parts = [
    `<svg id="parallel" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
  ];
  for (const r of records) {
    const points = names.map((name, i) => `${x(i)},${y(axes[i].at(value(r, name))).toFixed(1)}`);
    const isBest = r.trial === best;
    parts.push(
      `<polyline class="trial${isBest ? " best" : ""}" data-trial="${escape(r.trial)}" points="${
        points.join(" ")
      }" fill="none" stroke="${
        isBest ? "#d62728" : r.status === "done" ? "#1f77b4" : "#999"
      }" stroke-width="${isBest ? 3 : 1.5}" opacity="${isBest ? 1 : 0.6}"><title>${
        escape(r.trial)
      }</title></polyline>`,
    );
  }
  names.forEach((name, i) => {
    parts.push(
      `<line x1="${x(i)}" y1="${top}" x2="${x(i)}" y2="${bottom}" stroke="#333"/>`,
      `<text x="${x(i)}" y="${top - 12}" text-anchor="middle" font-size="12">${
        escape(name)
      }</text>`,
      `<text x="${x(i) + 4}" y="${bottom + 14}" font-size="10">${escape(axes[i].ticks[0])}</text>`,
      `<text x="${x(i) + 4}" y="${top + 10}" font-size="10">${escape(axes[i].ticks[1])}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

function curve(record: TrialRecord, lo: number, hi: number, best: boolean) {
  const w = 200, h = 100, pad = 8;
  const n = record.curve.length;
  const points = record.curve.map((v, i) =>
    `${(pad + (n === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (n - 1))).toFixed(1)},${
      (h - pad - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (h - 2 * pad)).toFixed(1)
    }`
  );
  return `<figure class="curve${
    best ? " best" : ""
  }"><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="${w}" height="${h}" fill="#fafafa" stroke="#ccc"/>` +
    (n > 1
      ? `<polyline points="${points.join(" ")}" fill="none" stroke="${
        best ? "#d62728" : "#1f77b4"
      }" stroke-width="2"/>`
      : "") +
    points.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="2.5"/>`).join(
      "",
    ) +
    `<text x="${w - 4}" y="14" text-anchor="end" font-size="10" fill="#666">${
      escape(show(hi))
    }</text><text x="${w - 4}" y="${h - 4}" text-anchor="end" font-size="10" fill="#666">${
      escape(show(lo))
    } · ${n} epoch${n === 1 ? "" : "s"}</text>` +
    `</svg><figcaption>${escape(record.trial)}: ${
      escape(show(record.objective))
    }</figcaption></figure>`;
}

const SORT_SCRIPT = `
const table = document.getElementById("trials");
const body = table.tBodies[0];
table.querySelectorAll("th").forEach((th, column) => {
  th.addEventListener("click", () => {
    const ascending = th.dataset.order !== "asc";
    table.querySelectorAll("th").forEach((other) => delete other.dataset.order);
    th.dataset.order = ascending ? "asc" : "desc";
    const key = (row) => row.cells[column].dataset.value ?? row.cells[column].textContent;
    const rows = [...body.rows].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      const [nx, ny] = [Number(x), Number(y)];
      const order = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    for (const row of rows) body.appendChild(row);
  });
});
// #sort=<column> (and &desc) sorts on load: a link can open the page sorted.
const wanted = /sort=([^&]+)/.exec(location.hash);
if (wanted) {
  const th = [...table.querySelectorAll("th")].find((t) => t.textContent === decodeURIComponent(wanted[1]));
  th?.click();
  if (/[#&]desc/.test(location.hash)) th?.click();
}
table.dataset.sortable = "ready";
`;

/**
 * The page for a sweep's records (plain HTML with inline SVG and a small sorting script).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderSweepHtml, resolveSweepConfig } from "./mod.ts";
 * const config = resolveSweepConfig({ name: "s", space: { lr: [0.1, 0.01] } });
 * const html = renderSweepHtml(config, [{ trial: "t000", index: 0, params: { lr: 0.1 }, run_dir: "runs/s/t000",
 *   status: "done", objective: 0.9, epochs: 2, curve: [0.8, 0.9], resumed: false, seconds: 3 }]);
 * assert.match(html, /<tr class="best"/);
 * ```
 */
export function renderSweepHtml(config: SweepConfig, records: TrialRecord[]): string {
  let best: TrialRecord | null = null;
  for (const r of records) {
    if (r.status !== "done" || r.objective === null) continue;
    if (
      best === null ||
      (config.objective.direction === "max"
        ? r.objective > best.objective!
        : r.objective < best.objective!)
    ) best = r;
  }
  const params = Object.keys(config.space);
  const columns = [
    "trial",
    "status",
    config.objective.metric,
    ...params,
    "epochs",
    "seconds",
    "resumed",
    "worker",
  ];
  const header = columns.map((c) => `<th title="sort">${escape(c)}</th>`).join("");
  const rows = records.map((r) => {
    const cells: unknown[] = [
      r.trial,
      r.status,
      r.objective,
      ...params.map((p) => r.params[p]),
      r.epochs,
      r.seconds,
      r.resumed ? "yes" : "",
      r.worker ?? "",
    ];
    const tds = cells.map((v, i) =>
      i === 0
        ? `<td data-value="${escape(r.trial)}"><a href="${escape(r.trial)}/report.html">${
          escape(r.trial)
        }</a></td>`
        : `<td data-value="${escape(v === null || v === undefined ? "" : String(v))}">${
          escape(show(v))
        }</td>`
    ).join("");
    return `<tr${r === best ? ' class="best"' : ""} data-trial="${escape(r.trial)}">${tds}</tr>`;
  });
  const all = records.flatMap((r) => r.curve);
  const [lo, hi] = all.length > 0 ? [Math.min(...all), Math.max(...all)] : [0, 1];
  const title = `Sweep ${config.name}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
th{cursor:pointer;background:#f3f3f3}th[data-order=asc]::after{content:" ▲"}th[data-order=desc]::after{content:" ▼"}
tr.best{background:#ffe9a8;font-weight:600}
.curves{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figure.best figcaption{font-weight:700;color:#d62728}
</style></head><body>
<h1>${escape(title)}</h1>
<p>${escape(config.strategy)} search, ${records.length} trial(s) recorded, objective: ${
    escape(config.objective.direction)
  } ${escape(config.objective.metric)}${
    best
      ? `; best <strong id="best">${escape(best.trial)}</strong> (${escape(show(best.objective))})`
      : ""
  }.</p>
<h2>Trials</h2>
<table id="trials"><thead><tr>${header}</tr></thead><tbody>
${rows.join("\n")}
</tbody></table>
<h2>Parallel coordinates</h2>
${parallelCoordinates(config, records, best?.trial ?? null)}
<h2>Validation curves (${escape(config.objective.metric)} per epoch)</h2>
<div class="curves">${records.map((r) => curve(r, lo, hi, r === best)).join("\n")}</div>
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
