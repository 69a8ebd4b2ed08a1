// Internal test helper: small ImageFolders of noisy colour patches, written as PNGs.
import { join } from "node:path";
import { encodePng } from "../mod.ts";

const COLORS: Record<string, [number, number, number]> = {
  red: [200, 40, 40],
  green: [40, 180, 60],
  blue: [40, 60, 200],
};

/** Writes `perClass` PNGs of `height`×`width` for each of three classes under `root`. */
export async function makeColorFolder(
  root: string,
  { perClass = 8, height = 20, width = 24 }: {
    perClass?: number;
    height?: number;
    width?: number;
  } = {},
): Promise<void> {
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 61) - 30;
  for (const [name, rgb] of Object.entries(COLORS)) {
    await Deno.mkdir(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const data = new Uint8Array(height * width * 3);
      for (let p = 0; p < data.length; p++) {
        data[p] = Math.max(0, Math.min(255, rgb[p % 3] + noise()));
      }
      await Deno.writeFile(
        join(root, name, `${i}.png`),
        encodePng({ width, height, channels: 3, data }),
      );
    }
  }
}
