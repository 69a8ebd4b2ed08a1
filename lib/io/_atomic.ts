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

/**
 * Brings `dir` back after a crash inside {@linkcode replaceDirAtomic}: between moving the old
 * folder aside and moving the new one in, neither is at `dir`. A finished new folder (it holds
 * `marker`, written last) wins, else the old one returns; leftovers of either kind are removed.
 * Returns whether `dir` exists afterwards.
 */
export async function recoverDir(dir: string, marker: string): Promise<boolean> {
  const parent = dirname(dir);
  const prefix = `.${basename(dir)}.`;
  const leftovers: { path: string; kind: "tmp" | "old"; complete: boolean }[] = [];
  try {
    for await (const entry of Deno.readDir(parent)) {
      if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
      const kind = entry.name.endsWith(".tmp") ? "tmp" : entry.name.endsWith(".old") ? "old" : null;
      if (kind === null) continue;
      const path = join(parent, entry.name);
      const complete = await Deno.stat(join(path, marker)).then(() => true, () => false);
      leftovers.push({ path, kind, complete });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  let present = await Deno.stat(dir).then(() => true, () => false);
  if (!present) {
    const pick = leftovers.find((l) => l.kind === "tmp" && l.complete) ??
      leftovers.find((l) => l.kind === "old" && l.complete);
    if (pick !== undefined) {
      await Deno.rename(pick.path, dir);
      present = true;
      leftovers.splice(leftovers.indexOf(pick), 1);
    }
  }
  for (const leftover of leftovers) await Deno.remove(leftover.path, { recursive: true });
  return present;
}
