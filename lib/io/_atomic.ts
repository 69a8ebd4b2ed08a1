// Internal: atomic writes. A file goes to a temp name in the same folder and is renamed into
// place; a folder is built beside its target and swapped in, so readers never see half of one.
import { basename, dirname, join } from "../_internal/path.ts";

/** Writes `data` to `path` through a temp file and a rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Fills a fresh folder with `fill`, then swaps it in for `dir` (the old one, if any, is removed
 * only after the new one is in place).
 */
export async function replaceDirAtomic(
  dir: string,
  fill: (temp: string) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(dirname(dir), { recursive: true });
  const temp = join(dirname(dir), `.${basename(dir)}.${crypto.randomUUID()}.tmp`);
  const old = join(dirname(dir), `.${basename(dir)}.${crypto.randomUUID()}.old`);
  await Deno.mkdir(temp);
  try {
    await fill(temp);
    let hadOld = false;
    try {
      await Deno.rename(dir, old);
      hadOld = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await Deno.rename(temp, dir);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
}
