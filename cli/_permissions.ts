// Internal: turns a refused permission into one line saying what was refused and the exact
// command that allows it (the task's own flags with the refused path or host added).

const FLAG: Record<string, string> = {
  read: "--allow-read",
  write: "--allow-write",
  net: "--allow-net",
  env: "--allow-env",
  run: "--allow-run",
  sys: "--allow-sys",
  ffi: "--allow-ffi",
};

/** The task's `deno run …` line from deno.json, or undefined outside the project. */
function taskLine(command: string): string | undefined {
  try {
    const config = JSON.parse(Deno.readTextFileSync("deno.json"));
    const line = config?.tasks?.[command];
    return typeof line === "string" ? line : undefined;
  } catch {
    return undefined;
  }
}

/** Adds `value` to the task line's `--allow-<kind>=…` list (or appends the flag). */
export function widen(line: string, kind: string, value: string): string {
  const flag = FLAG[kind] ?? `--allow-${kind}`;
  const pattern = new RegExp(`${flag}=(\\S+)`);
  const match = pattern.exec(line);
  if (match) return line.replace(pattern, `${flag}=${match[1]},${value}`);
  return line.replace(/ cli\/main\.ts/, ` ${flag}=${value} cli/main.ts`);
}

const quote = (arg: string) =>
  /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * One line for a refused permission. Deno's message reads like
 * `Requires read access to "../shared/x", run again with the --allow-read flag`.
 */
export function describeDenial(message: string, command: string, args: string[]): string {
  const match = /Requires (\w+) access to "?([^",]+)"?/.exec(message);
  if (match === null) return `permission refused: ${message}`;
  const [, kind, target] = match;
  const line = taskLine(command);
  const what = `${kind} access to ${target} was refused`;
  if (line === undefined || kind === "run" || kind === "ffi") {
    return `${what}: this command does not need it; check the paths you passed`;
  }
  // Widen to the path the user passed (a dataset folder), not the one file that was refused.
  const given = args.filter((arg) => !arg.startsWith("-")).map((arg) => arg.replace(/\/+$/, ""))
    .find((arg) => arg !== "" && (target === arg || target.startsWith(`${arg}/`)));
  const value = kind === "net" ? target.replace(/:\d+$/, "") : given ?? target;
  return `${what} (the ${command} task allows only what it needs); to allow it, run: ${
    widen(line, kind, value)
  } ${args.map(quote).join(" ")}`.trimEnd();
}
