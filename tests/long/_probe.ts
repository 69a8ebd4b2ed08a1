// Internal: run under a task's permission flags by tests/long/permissions.ts; tries what the task
// must not do (and what it must) and prints one JSON line of outcomes.
async function attempt(body: () => unknown | Promise<unknown>): Promise<string> {
  try {
    await body();
    return "allowed";
  } catch (error) {
    return error instanceof Deno.errors.NotCapable ? "refused" : `error: ${error}`;
  }
}

const results = {
  write_outside: await attempt(() => Deno.writeTextFile("../outside-probe.txt", "x")),
  write_tmp: await attempt(() => Deno.writeTextFile("/tmp/denovision-probe.txt", "x")),
  write_data: await attempt(async () => {
    await Deno.mkdir("data/.test", { recursive: true });
    await Deno.writeTextFile("data/.test/probe.txt", "x");
    await Deno.remove("data/.test/probe.txt");
  }),
  spawn: await attempt(() => new Deno.Command("ls").output()),
  spawn_deno: await attempt(() =>
    new Deno.Command(Deno.execPath(), { args: ["--version"] }).output()
  ),
  ffi: await attempt(() => Deno.dlopen("libc.so.6", {})),
  fetch_other_host: await attempt(() => fetch("https://example.com/")),
  net_mirror: (await Deno.permissions.query({ name: "net", host: "www.cs.toronto.edu" })).state,
  env_home: await attempt(() => Deno.env.get("HOME")),
  env_xdg: await attempt(() => Deno.env.get("XDG_RUNTIME_DIR")),
  read_etc: await attempt(() => Deno.readTextFile("/etc/hostname")),
};
console.log(JSON.stringify(results));
