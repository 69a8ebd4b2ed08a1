// Internal: JSON config files and flag values → TrainConfig overrides.
import type { FlagSpecs, ParsedArgs } from "./_args.ts";
import { UsageError } from "./_args.ts";

/** kebab-case → camelCase (`batch-size` → `batchSize`). */
export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Reads a JSON object of settings; keys may be camelCase or the flags' kebab-case. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new UsageError(`${path}: file not found`);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${path}: not valid JSON (${error instanceof Error ? error.message : error})`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(`${path}: expected a JSON object of settings`);
  }
  return Object.fromEntries(
    Object.entries(parsed as Record<string, unknown>).map((
      [key, value],
    ) => [camelCase(key), value]),
  );
}

/**
 * The flags the user actually gave, as config keys (`--no-cache` → `cache: false`). Flags left at
 * their defaults are not overrides, so a config file's values stand.
 */
export function toConfigOverrides(
  { values, given }: ParsedArgs,
  specs: FlagSpecs,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(specs)) {
    const value = values[name];
    if (!given.has(name) || value === undefined) continue;
    if (name.startsWith("no-")) {
      if (value === true) out[camelCase(name.slice(3))] = false;
      continue;
    }
    if (specs[name].type === "boolean" && value !== true) continue;
    out[camelCase(name)] = value;
  }
  return out;
}
