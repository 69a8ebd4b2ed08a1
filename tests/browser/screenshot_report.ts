// Renders a run's report.html in headless Chromium and saves a PNG screenshot, to look at the
// report as a user's browser shows it. Not part of `deno task test` (CI has no browser). Needs
// Debian's chromium:
//   deno run --allow-read --allow-write=data --allow-run=chromium \
//     tests/browser/screenshot_report.ts runs/<name>/report.html [data/report.png]
import { resolve } from "node:path";

const [report, output = "data/report.png"] = Deno.args;
if (report === undefined) {
  console.error("usage: screenshot_report.ts <report.html> [screenshot.png]");
  Deno.exit(2);
}
const html = await Deno.readTextFile(report);
if (/<script|src="https?:/i.test(html)) throw new Error(`${report}: not self-contained`);
const { code, stderr } = await new Deno.Command("chromium", {
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--window-size=1100,2600",
    `--screenshot=${resolve(output)}`,
    `file://${resolve(report)}`,
  ],
  stdout: "null",
  stderr: "piped",
}).output();
const png = await Deno.stat(output).catch(() => null);
if (code !== 0 || png === null || png.size < 10_000) {
  console.error(new TextDecoder().decode(stderr));
  throw new Error(`chromium did not render ${report} (exit ${code})`);
}
console.log(`${output}: ${png.size} bytes`);
