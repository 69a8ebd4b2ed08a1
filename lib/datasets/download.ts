/**
 * Checked downloads: mirrors tried in order, retries with backoff, resume with `Range` where the
 * server allows it, an md5 per file, a progress line with bytes, rate and ETA, and the file
 * renamed into place only once its checksum matches.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "../_internal/path.ts";
import { DatasetError } from "./errors.ts";
import { maybeGunzip } from "./_gzip.ts";

/** Options shared by every download. */
export interface DownloadOptions {
  /** Receives progress lines. Default: overwritten in place on a TTY, every 5 s otherwise. */
  onProgress?: (line: string) => void;
  /** Attempts per mirror after the first. Default: 3. */
  retries?: number;
  /** First backoff delay in ms, doubled on each retry. Default: 1000. */
  backoffMs?: number;
  /** The fetch to use (tests pass their own). Default: global `fetch`. */
  fetch?: typeof fetch;
}

const MiB = 1024 * 1024;

/**
 * One progress line: file, bytes so far of total, rate and ETA.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProgress } from "./download.ts";
 * assert.equal(
 *   formatProgress("a.gz", 2 * 1024 * 1024, 8 * 1024 * 1024, 2),
 *   "a.gz: 2.0/8.0 MiB (25%), 1.0 MiB/s, ETA 6s",
 * );
 * ```
 */
export function formatProgress(
  name: string,
  received: number,
  total: number | undefined,
  seconds: number,
): string {
  const rate = seconds > 0 ? received / seconds : 0;
  const rateText = `${(rate / MiB).toFixed(1)} MiB/s`;
  if (total === undefined || total <= 0) {
    return `${name}: ${(received / MiB).toFixed(1)} MiB, ${rateText}`;
  }
  const eta = rate > 0 ? Math.max(0, Math.round((total - received) / rate)) : undefined;
  const percent = Math.floor((received / total) * 100);
  return `${name}: ${(received / MiB).toFixed(1)}/${(total / MiB).toFixed(1)} MiB (${percent}%), ` +
    `${rateText}, ETA ${eta === undefined ? "?" : `${eta}s`}`;
}

function defaultProgress(): (line: string) => void {
  const tty = Deno.stderr.isTerminal();
  let lastPrint = 0;
  const encoder = new TextEncoder();
  return (line) => {
    const now = performance.now();
    if (tty) {
      Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K`));
    } else if (now - lastPrint > 5000 || /\(100%\)/.test(line)) {
      lastPrint = now;
      console.error(line);
    }
  };
}

async function digestOf(path: string, algorithm: "md5" | "sha256"): Promise<string> {
  const hash = createHash(algorithm);
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** A failure worth another attempt (network drops, 5xx, 429) versus one that is not. */
class RetryableError extends Error {}

async function fetchInto(
  url: string,
  partPath: string,
  name: string,
  options: DownloadOptions,
  progress: (line: string) => void,
): Promise<void> {
  const doFetch = options.fetch ?? fetch;
  const have = await sizeOf(partPath);
  const headers: HeadersInit = have > 0 ? { Range: `bytes=${have}-` } : {};
  let response: Response;
  try {
    response = await doFetch(url, { headers });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `${url}: network access refused by Deno's permissions; allow it with ` +
          `--allow-net=${new URL(url).host}`,
      );
    }
    throw new RetryableError(`${url}: ${error instanceof Error ? error.message : error}`);
  }
  if (response.status === 416 && have > 0) {
    await response.body?.cancel();
    return; // we already hold every byte; the checksum decides
  }
  if (!response.ok) {
    await response.body?.cancel();
    const message = `${url}: HTTP ${response.status} ${response.statusText}`;
    if (response.status >= 500 || response.status === 429) throw new RetryableError(message);
    throw new Error(message);
  }
  const resumed = response.status === 206;
  const length = Number(response.headers.get("content-length") ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : undefined;
  using file = await Deno.open(partPath, {
    write: true,
    create: true,
    append: resumed,
    truncate: !resumed,
  });
  let received = resumed ? have : 0;
  const start = performance.now();
  const startBytes = received;
  try {
    for await (const chunk of response.body ?? []) {
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      received += chunk.length;
      progress(formatProgress(name, received, total, (performance.now() - start) / 1000 || 1e-3));
    }
  } catch (error) {
    throw new RetryableError(
      `${url}: connection lost after ${received - startBytes} bytes (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  if (total !== undefined && received < total) {
    throw new RetryableError(`${url}: connection closed at ${received} of ${total} bytes`);
  }
}

/**
 * Downloads `dest` from the first mirror that delivers a file whose checksum matches: `checksum` is an
 * md5 in hex, or `sha256:<hex prefix>` for files named like torch.hub's `name-<sha256 prefix>.pth`
 * (the hash's first hex digits, as torch.hub checks them). Bytes go to
 * `dest.part` (kept between attempts so a retry resumes with `Range`), which is renamed to `dest`
 * only after the checksum matches; a mismatch deletes it and says so.
 *
 * @example
 * ```ts ignore
 * import { downloadResource } from "./download.ts";
 * await downloadResource(
 *   ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"],
 *   "data/MNIST/raw/t10k-labels-idx1-ubyte.gz",
 *   "ec29112dd5afa0611ce80d1b7f02629c",
 * );
 * ```
 */
export async function downloadResource(
  urls: readonly string[],
  dest: string,
  checksum: string,
  options: DownloadOptions = {},
): Promise<void> {
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const progress = options.onProgress ?? defaultProgress();
  const partPath = `${dest}.part`;
  const name = basename(dest);
  await Deno.mkdir(dirname(dest), { recursive: true });
  const failures: string[] = [];
  for (const url of urls) {
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      try {
        await fetchInto(url, partPath, name, options, progress);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
        if (error instanceof RetryableError) continue;
        break; // a 404 or 403 will not change: next mirror
      }
      const sha256 = /^sha256:([0-9a-f]+)$/.exec(checksum)?.[1];
      const algorithm = sha256 === undefined ? "md5" : "sha256";
      const expected = sha256 ?? checksum;
      const actual = await digestOf(partPath, algorithm);
      if (sha256 === undefined ? actual === checksum : actual.startsWith(sha256)) {
        await Deno.rename(partPath, dest);
        return;
      }
      await Deno.remove(partPath);
      failures.push(
        `${url}: checksum mismatch (${algorithm} ${actual}, expected ${expected}` +
          `${sha256 === undefined ? "" : "…"}); deleted the download`,
      );
      break; // a corrupt mirror stays corrupt: next mirror
    }
  }
  // Retries that failed the same way are said once, with their count.
  const counts = new Map<string, number>();
  for (const failure of failures) counts.set(failure, (counts.get(failure) ?? 0) + 1);
  const said = [...counts].map(([text, n]) => n > 1 ? `${text} (${n} attempts)` : text);
  throw new DatasetError(dest, `download failed: ${said.join("; ")}`);
}

/** Extracts the regular files and folders of a .tar.gz into `destination`. */
export async function extractTarGz(archive: string, destination: string): Promise<string[]> {
  const tar = await maybeGunzip(await Deno.readFile(archive), archive);
  const decoder = new TextDecoder();
  const text = (at: number, length: number) =>
    decoder.decode(tar.subarray(at, at + length)).replace(/\0.*$/s, "");
  const written: string[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break; // end-of-archive block
    const prefix = text(at + 345, 155);
    const name = (prefix ? `${prefix}/` : "") + text(at, 100);
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(tar[at + 156] || 0x30);
    const body = at + 512;
    if (Number.isNaN(size) || body + size > tar.length) {
      throw new DatasetError(archive, `truncated tar entry '${name}'`);
    }
    if (name.startsWith("/") || name.split("/").includes("..")) {
      throw new DatasetError(archive, `refusing tar entry outside the destination: '${name}'`);
    }
    const target = join(destination, name);
    if (type === "5") {
      await Deno.mkdir(target, { recursive: true });
    } else if (type === "0") {
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.writeFile(`${target}.tmp`, tar.subarray(body, body + size));
      await Deno.rename(`${target}.tmp`, target);
      written.push(target);
    }
    at = body + Math.ceil(size / 512) * 512;
  }
  return written;
}
