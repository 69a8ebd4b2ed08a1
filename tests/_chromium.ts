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

/**
 * The DOM of `url` after headless Chromium ran its scripts (in a fresh profile, removed after),
 * with `extraArgs` such as `--virtual-time-budget=10000`; a Chromium failure fails the test.
 */
export async function dumpDom(url: URL, extraArgs: string[] = []): Promise<string> {
  const profile = await tempDir("chromium-");
  try {
    const { code, stdout, stderr } = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        ...extraArgs,
        "--dump-dom",
        url.href,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr).slice(-2000));
    return new TextDecoder().decode(stdout);
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}
