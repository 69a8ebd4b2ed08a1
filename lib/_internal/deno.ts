// Internal: the Deno executable this process may run as a child.

/**
 * The Deno executable this process may run (itself, or `deno` on the PATH: tasks grant
 * `--allow-run=deno`, which an npm-installed Deno's own path does not match), or null.
 */
export function runnableDeno(): string | null {
  for (const command of [Deno.execPath(), "deno"]) {
    if (Deno.permissions.querySync({ name: "run", command }).state === "granted") return command;
  }
  return null;
}
