/**
 * Internal: the code-import graph of a module, from `deno info --json`, and the places in it
 * that need Deno (a `Deno.` global outside comments, or a `node:` built-in). The `./web` entry's
 * test and `deno task web` both use it, so a Deno-only import never reaches a page.
 *
 * @module
 */
import { runnableDeno } from "../_internal/deno.ts";

/** A module in the graph that needs Deno, with the import chain that reaches it. */
export interface DenoOnlyUse {
  /** The module (a `file:` URL, a `node:` specifier or an `npm:` package). */
  module: string;
  /** What it needs. */
  reason: string;
  /** From the entry to `module`, each importing the next. */
  chain: string[];
}

interface InfoModule {
  specifier: string;
  kind?: string;
  local?: string;
  dependencies?: { specifier: string; code?: { specifier: string } }[];
}

interface InfoJson {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

/** npm packages a browser bundle may contain (pure JavaScript, no Node built-ins needed). */
export const BROWSER_PACKAGES: readonly string[] = [
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-layers",
  "@tensorflow/tfjs-backend-cpu",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu",
  "jpeg-js",
  "fflate",
  "pickleparser",
  "protobufjs",
];

/** Removes comments (block and line) so that a `Deno.` in a doc example does not count. */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

function packageName(specifier: string): string {
  const bare = specifier.replace(/^npm:\/?/, "");
  const parts = bare.split("/");
  const name = bare.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  return name.replace(/@[^@/]+$/, "");
}

/**
 * Walks the code imports (not type-only ones) of `entry` and lists every module that needs Deno.
 *
 * @example
 * ```ts ignore
 * const uses = await denoOnlyUses("web.ts");
 * console.log(uses.length === 0 ? "browser-safe" : uses[0].chain.join(" -> "));
 * ```
 */
export async function denoOnlyUses(entry: string): Promise<DenoOnlyUse[]> {
  const output = await new Deno.Command(denoExecutable(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as InfoJson;
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => info.redirects[s] ?? s;
  const uses: DenoOnlyUse[] = [];
  const parent = new Map<string, string | undefined>();
  const queue = info.roots.map(resolve);
  for (const root of queue) parent.set(root, undefined);
  const chainOf = (specifier: string) => {
    const chain = [specifier];
    for (let p = parent.get(specifier); p !== undefined; p = parent.get(p)) chain.unshift(p);
    return chain;
  };
  while (queue.length > 0) {
    const specifier = queue.shift()!;
    if (specifier.startsWith("node:")) {
      uses.push({ module: specifier, reason: "a Node built-in", chain: chainOf(specifier) });
      continue;
    }
    if (specifier.startsWith("npm:")) {
      const name = packageName(specifier);
      if (!BROWSER_PACKAGES.includes(name)) {
        uses.push({
          module: specifier,
          reason: `npm package ${name} is not on the browser list`,
          chain: chainOf(specifier),
        });
      }
      continue;
    }
    const module = bySpecifier.get(specifier);
    if (module === undefined) continue;
    if (module.local !== undefined && specifier.startsWith("file:")) {
      const source = stripComments(await Deno.readTextFile(module.local));
      if (/\bDeno\./.test(source)) {
        uses.push({ module: specifier, reason: "uses the Deno global", chain: chainOf(specifier) });
      }
    }
    for (const dependency of module.dependencies ?? []) {
      if (dependency.code === undefined) continue;
      const next = resolve(dependency.code.specifier);
      if (parent.has(next)) continue;
      parent.set(next, specifier);
      queue.push(next);
    }
  }
  return uses;
}

/** The Deno to run as a child, or an error saying which permission is missing. */
function denoExecutable(): string {
  const deno = runnableDeno();
  if (deno === null) throw new Error("running deno was refused; allow it with --allow-run=deno");
  return deno;
}
