// Decode throughput on real photos, as JSON: MP/s for decodeImage on the hymenoptera JPEGs.
// Run: deno task bench decode [--root DIR] [--images 48] [--rounds 3]
import { parseArgs } from "node:util";
import { decodeImage } from "../mod.ts";
import { join } from "../lib/_internal/path.ts";

/** Decodes every image `rounds` times; returns megapixels and images per second. */
export async function runDecodeBench(args: string[] = Deno.args): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      root: { type: "string", default: "../shared/datasets/hymenoptera/train/bees" },
      images: { type: "string", default: "48" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const names = [];
  for await (const entry of Deno.readDir(values.root!)) {
    if (/\.(jpe?g|png)$/i.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  const files = await Promise.all(
    names.slice(0, Number(values.images)).map((name) => Deno.readFile(join(values.root!, name))),
  );
  let pixels = 0;
  for (const bytes of files) {
    const { width, height } = decodeImage(bytes); // warm-up round, and the pixel count
    pixels += width * height;
  }
  const rounds = Number(values.rounds);
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const bytes of files) decodeImage(bytes);
  const seconds = (performance.now() - start) / 1000;
  return {
    framework: `denovision (deno ${Deno.version.deno})`,
    images: files.length,
    megapixels: Math.round(pixels / 1e4) / 100,
    megapixels_per_s: Math.round(((pixels * rounds) / 1e6 / seconds) * 10) / 10,
    images_per_s: Math.round(((files.length * rounds) / seconds) * 10) / 10,
    peak_rss_mb: Math.round(Deno.memoryUsage().rss / 2 ** 20),
  };
}

if (import.meta.main) console.log(JSON.stringify(await runDecodeBench()));
