// Internal: command-line parsing behind one module, so @std/cli can replace node:util later
// (JSR is unreachable from our build machines; node:util's parseArgs ships with Deno).
import { parseArgs as nodeParseArgs } from "node:util";

/** One flag a command accepts. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  default?: string | boolean;
  description: string;
}

/** Flags by long name. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed values: strings, booleans, and positional arguments. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** Flags the user actually gave (the rest hold their defaults). */
  given: Set<string>;
}

/** A user error on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

function closest(name: string, candidates: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length];
  };
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Parses `args` against `specs`; unknown flags raise a UsageError with a suggestion. */
export function parseArgs(args: string[], specs: FlagSpecs): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  try {
    const { values, positionals } = nodeParseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    const merged: Record<string, string | boolean | undefined> = {};
    for (const [name, spec] of Object.entries(specs)) {
      merged[name] = (values as Record<string, string | boolean | undefined>)[name] ??
        spec.default;
    }
    return { values: merged, positionals, given: new Set(Object.keys(values)) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    if (unknown !== undefined) {
      const suggestion = closest(unknown.replace(/^-+/, ""), Object.keys(specs));
      throw new UsageError(
        `unknown flag ${unknown}` + (suggestion ? `; did you mean --${suggestion}?` : ""),
      );
    }
    throw new UsageError(message.split("\n")[0]);
  }
}

/** Renders a command's `--help` text. */
export function formatHelp(usage: string, summary: string, specs: FlagSpecs, examples: string[]) {
  const lines = [`Usage: ${usage}`, "", summary, "", "Options:"];
  for (const [name, spec] of Object.entries(specs)) {
    const flag = `--${name}${spec.type === "string" ? " <value>" : ""}`;
    const suffix = spec.default !== undefined && spec.default !== false
      ? ` (default: ${spec.default})`
      : "";
    lines.push(`  ${flag.padEnd(24)} ${spec.description}${suffix}`);
  }
  lines.push("", "Examples:", ...examples.map((example) => `  ${example}`));
  return lines.join("\n");
}

/**
 * Runs a standalone script (the `deno task bench:*` ones) the way cli/main.ts runs a command:
 * `--help` or `-h` prints `help` and returns 0; a {@linkcode UsageError} (an unknown flag, say)
 * prints one `error:` line and returns 2; anything else propagates. Returns the exit code.
 *
 * @example
 * ```ts
 * import { parseArgs, runScript } from "./_args.ts";
 * const flags = { steps: { type: "string" as const, description: "steps" } };
 * const code = await runScript(["--step", "3"], "Usage: demo", (args) => {
 *   parseArgs(args, flags); // error: unknown flag --step; did you mean --steps?
 *   return Promise.resolve();
 * });
 * console.assert(code === 2);
 * ```
 */
export async function runScript(
  args: string[],
  help: string,
  main: (args: string[]) => Promise<void>,
): Promise<number> {
  const end = args.indexOf("--");
  const flags = end === -1 ? args : args.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) {
    console.log(help);
    return 0;
  }
  try {
    await main(args);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
}
