// Internal test helper: decodes mutants and checks each one decodes consistently or throws a
// DecodeError, within a time bound and without the process growing past a memory bound.
import { DecodeError, decodeImage } from "../../mod.ts";
import { join } from "../../lib/_internal/path.ts";
import { type Mutant, randomMutants, structuralMutants } from "./_fuzz.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const PHOTOS = new URL("../../../shared/datasets/hymenoptera/", import.meta.url).pathname;

/**
 * The tolerance seeds from jpeg_odd/ and png_odd/: arithmetic-coded JPEG, junk before markers,
 * restart markers out of order, broken APPn and Adobe segments, colour-key and odd-stream PNGs.
 * `few` keeps one of each kind.
 */
const ODD_SEEDS = /^(arith|junk|adobe|app|broken|cmyk|trns|idat|ljt_testimgari|restart|eoi)/;
const FEW_SEEDS = [
  "jpeg_odd/arith_420.jpg",
  "jpeg_odd/arith_progressive_odd.jpg",
  "jpeg_odd/junk_after_app0.jpg",
  "jpeg_odd/restart_swapped.jpg",
  "jpeg_odd/adobe_rgb.jpg",
  "png_odd/trns_rgb16.png",
  "png_odd/idat_empty.png",
];

/** Real photos (every `step`-th of the train set), every fixture variant and the odd seeds. */
export async function corpus(
  photos: number,
  seeds: "all" | "few" = "all",
): Promise<{ name: string; bytes: Uint8Array }[]> {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (/\.(png|jpg)$/.test(entry.name)) {
      out.push({ name: entry.name, bytes: await Deno.readFile(join(FIXTURES, entry.name)) });
    }
  }
  for (const folder of ["jpeg_odd", "png_odd"]) {
    for await (const entry of Deno.readDir(join(FIXTURES, folder))) {
      const name = `${folder}/${entry.name}`;
      const wanted = seeds === "all" ? ODD_SEEDS.test(entry.name) : FEW_SEEDS.includes(name);
      if (wanted && /\.(png|jpg)$/.test(entry.name)) {
        out.push({ name, bytes: await Deno.readFile(join(FIXTURES, name)) });
      }
    }
  }
  const names: string[] = [];
  for (const cls of ["ants", "bees"]) {
    for await (const entry of Deno.readDir(join(PHOTOS, "train", cls))) {
      if (/\.jpe?g$/i.test(entry.name)) names.push(join("train", cls, entry.name));
    }
  }
  names.sort();
  const step = Math.max(1, Math.floor(names.length / photos));
  for (let i = 0; i < names.length && out.length < 1e6; i += step) {
    if (i / step >= photos) break;
    out.push({ name: names[i], bytes: await Deno.readFile(join(PHOTOS, names[i])) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** What a fuzzing run saw. */
export interface FuzzReport {
  tried: number;
  decoded: number;
  rejected: Record<string, number>;
  slowestMs: number;
  slowest: string;
  peakRssMb: number;
  failures: string[];
}

/** Decodes every mutant; a failure is a non-DecodeError, an inconsistent image or a slow one. */
export function fuzz(mutants: Iterable<Mutant>, limitMs = 2000, rssLimitMb = 3072): FuzzReport {
  const report: FuzzReport = {
    tried: 0,
    decoded: 0,
    rejected: {},
    slowestMs: 0,
    slowest: "",
    peakRssMb: 0,
    failures: [],
  };
  for (const mutant of mutants) {
    report.tried++;
    const start = performance.now();
    try {
      const image = decodeImage(mutant.bytes, { maxPixels: 40e6 });
      if (image.data.length !== image.width * image.height * image.channels) {
        report.failures.push(
          `${mutant.name}: ${image.data.length} bytes for ${image.width}×${image.height}`,
        );
      }
      report.decoded++;
    } catch (error) {
      if (error instanceof DecodeError) {
        report.rejected[error.reason] = (report.rejected[error.reason] ?? 0) + 1;
      } else {
        report.failures.push(
          `${mutant.name}: ${error instanceof Error ? error.name : ""} ${error}`,
        );
      }
    }
    const ms = performance.now() - start;
    if (ms > report.slowestMs) [report.slowestMs, report.slowest] = [ms, mutant.name];
    if (ms > limitMs) report.failures.push(`${mutant.name}: ${ms.toFixed(0)} ms`);
    if (report.tried % 50 === 0) {
      const rss = Deno.memoryUsage().rss / 2 ** 20;
      report.peakRssMb = Math.max(report.peakRssMb, rss);
      if (rss > rssLimitMb) report.failures.push(`${mutant.name}: RSS ${rss.toFixed(0)} MB`);
    }
  }
  return report;
}

/** Structural mutants of every corpus file, then `random` seeded random ones. */
export function* allMutants(
  files: { name: string; bytes: Uint8Array }[],
  seed: number,
  random: number,
): Generator<Mutant> {
  for (const file of files) yield* structuralMutants(file.name, file.bytes);
  yield* randomMutants(files, seed, random);
}
