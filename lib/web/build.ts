/**
 * `deno task web`: builds the page (`runs/web/index.html`, its bundle `app.js`, its stylesheet
 * and tfjs-backend-wasm's `.wasm` files) that any static host serves, and serves it on
 * 127.0.0.1. The bundle is made by `deno bundle --platform browser` from page/app.ts,
 * after a walk of its imports has checked that nothing in it needs Deno.
 *
 * @module
 */
import { runnableDeno } from "../_internal/deno.ts";
import { join } from "../_internal/path.ts";
import { replaceDirAtomic } from "../io/_atomic.ts";
import { denoOnlyUses } from "./_graph.ts";

const PAGE = new URL("../../page/", import.meta.url);
const WASM_DIST = new URL(
  "../../node_modules/@tensorflow/tfjs-backend-wasm/dist/",
  import.meta.url,
);
const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
];

/** Options for {@linkcode buildWebPage}. */
export interface BuildWebOptions {
  /** The folder written (replaced whole, atomically). Default: `runs/web`. */
  outDir?: string;
  /** Minify the bundle. Default: true. */
  minify?: boolean;
}

/** What {@linkcode buildWebPage} wrote. */
export interface WebBuild {
  /** The folder. */
  dir: string;
  /** Its files and their sizes in bytes. */
  files: { name: string; bytes: number }[];
}

/** A build that cannot be made: a Deno-only import, or the bundler failing. */
export class WebBuildError extends Error {
  /** Always `WebBuildError`. */
  override name = "WebBuildError";
}

/**
 * Builds the page into `outDir`: checks the page's imports, bundles it for browsers and copies
 * the static files beside it.
 *
 * @example
 * ```ts ignore
 * import { buildWebPage } from "./build.ts";
 * const { dir, files } = await buildWebPage({ outDir: "runs/web" });
 * console.log(dir, files.map((f) => f.name));
 * ```
 */
export async function buildWebPage(options: BuildWebOptions = {}): Promise<WebBuild> {
  const dir = options.outDir ?? join("runs", "web");
  const entry = new URL("app.ts", PAGE);
  const uses = await denoOnlyUses(entry.pathname);
  if (uses.length > 0) {
    const [first] = uses;
    throw new WebBuildError(
      `the page imports ${uses.length} module(s) that need Deno, first ${first.module} ` +
        `(${first.reason}) through ${first.chain.join(" -> ")}`,
    );
  }
  await replaceDirAtomic(dir, async (temp) => {
    const output = await new Deno.Command(denoExecutable(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        ...(options.minify === false ? [] : ["--minify"]),
        "--output",
        join(temp, "app.js"),
        entry.pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const text = new TextDecoder().decode(output.stderr).split("\n")
        .filter((line) => /error/i.test(line)).slice(0, 3).join("; ");
      throw new WebBuildError(`deno bundle failed: ${text || `exit code ${output.code}`}`);
    }
    for (const name of ["index.html", "style.css"]) {
      await Deno.copyFile(new URL(name, PAGE), join(temp, name));
    }
    for (const name of WASM_FILES) {
      await Deno.copyFile(new URL(name, WASM_DIST), join(temp, name));
    }
  });
  const files: WebBuild["files"] = [];
  for await (const file of Deno.readDir(dir)) {
    if (file.isFile) {
      files.push({ name: file.name, bytes: (await Deno.stat(join(dir, file.name))).size });
    }
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  return { dir, files };
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  wasm: "application/wasm",
  json: "application/json",
};

/** Options for {@linkcode serveWebPage}. */
export interface ServeWebOptions {
  /** Port on 127.0.0.1 (0: any free one). Default: 8080. */
  port?: number;
  /** Stops the server. */
  signal?: AbortSignal;
  /** Called once listening, with the page's URL. */
  onListen?: (url: URL) => void;
}

/**
 * Serves the built page's folder on 127.0.0.1: its files only (no listing, nothing outside it),
 * with the content types browsers need (`application/wasm` included).
 *
 * @example
 * ```ts ignore
 * import { buildWebPage, serveWebPage } from "./build.ts";
 * const { dir } = await buildWebPage();
 * await serveWebPage(dir, { port: 8080, onListen: (url) => console.log(`open ${url}`) }).finished;
 * ```
 */
export function serveWebPage(dir: string, options: ServeWebOptions = {}): Deno.HttpServer {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 8080,
    signal: options.signal,
    onListen: ({ port }) => options.onListen?.(new URL(`http://127.0.0.1:${port}/`)),
  }, async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const name = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "") ||
      "index.html";
    if (!/^[\w.-]+$/.test(name) || name.startsWith(".")) {
      return new Response("not found\n", { status: 404 });
    }
    try {
      const body = await Deno.readFile(join(dir, name));
      const type = TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream";
      return new Response(request.method === "HEAD" ? null : body, {
        headers: { "content-type": type, "cache-control": "no-cache" },
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return new Response("not found\n", { status: 404 });
      }
      throw error;
    }
  });
}

/** The Deno to run as a child, or an error saying which permission is missing. */
function denoExecutable(): string {
  const deno = runnableDeno();
  if (deno === null) throw new Error("running deno was refused; allow it with --allow-run=deno");
  return deno;
}
