// The train task's permissions, tried for real (`deno task test:long`): a child process runs a
// probe under exactly the flags deno.json gives `train`, and each forbidden action must be
// refused by Deno while the allowed ones work.
import assert from "node:assert/strict";

Deno.test("the train task cannot write outside runs/ and data/, spawn, load libraries or reach other hosts", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json")) as {
    tasks: Record<string, string>;
  };
  const flags = tasks.train.split(" ").filter((part) => part.startsWith("--allow-"));
  assert.ok(!flags.some((flag) => flag === "-A" || flag === "--allow-all"));
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", ...flags, "tests/long/_probe.ts"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const outcome = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  console.log(JSON.stringify(outcome));
  assert.deepEqual(outcome, {
    write_outside: "refused",
    write_tmp: "refused",
    write_data: "allowed",
    spawn: "refused",
    spawn_deno: "refused",
    ffi: "refused",
    fetch_other_host: "refused",
    net_mirror: "granted",
    env_home: "refused",
    env_xdg: "allowed",
    read_etc: "refused",
  });
});
