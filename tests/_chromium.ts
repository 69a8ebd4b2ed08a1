// Internal test helper: Debian's headless Chromium, for the pages we serve or write. CI installs
// it; the tests that need it are ignored where it is missing.
import assert from "node:assert/strict";
import { tempDir } from "./_tmp.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Whether Debian's chromium is installed. */
export const hasChromium: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/** Runs headless Chromium on `url` in a fresh profile, removed after; a failure fails the test. */
async function runChromium(url: URL, args: string[]): Promise<Uint8Array> {
  const profile = await tempDir("chromium-");
  try {
    const { code, stdout, stderr } = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        ...args,
        url.href,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr).slice(-2000));
    return stdout;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/**
 * The DOM of `url` after headless Chromium ran its scripts, with `extraArgs` such as
 * `--virtual-time-budget=10000`.
 */
export async function dumpDom(url: URL, extraArgs: string[] = []): Promise<string> {
  return new TextDecoder().decode(await runChromium(url, [...extraArgs, "--dump-dom"]));
}

/** Writes a `width` × `height` PNG screenshot of `url` to `path` (an absolute path). */
export async function screenshot(
  url: URL,
  path: string,
  [width, height]: [number, number],
): Promise<void> {
  await runChromium(url, [`--screenshot=${path}`, `--window-size=${width},${height}`]);
}
