import assert from "node:assert/strict";
import { makeRun } from "./_run.ts";

const task = (): string => JSON.parse(Deno.readTextFileSync("deno.json")).tasks.serve;

Deno.test("deno.json: the serve task reads the runs, listens on local addresses, nothing else", () => {
  const line = task();
  const flag = (kind: string) => new RegExp(`--allow-${kind}(=(\\S+))?`).exec(line)?.[2];
  assert.equal(flag("read"), "runs,node_modules,deno.json");
  assert.equal(flag("net"), "0.0.0.0,127.0.0.1,localhost");
  for (const kind of ["write", "run", "ffi", "all"]) {
    assert.doesNotMatch(line, new RegExp(`--allow-${kind}`), kind);
  }
  assert.doesNotMatch(line, /(^|\s)-A(\s|$)/);
});

Deno.test("serve: a run outside runs/ is refused in one line with the command that allows it", async () => {
  const dir = await makeRun("serve-perm-");
  try {
    const args = task().replace(/^deno run /, "").split(/\s+/);
    const { code, stderr } = await new Deno.Command("deno", {
      args: ["run", ...args, "--run", dir, "--port", "0", "--backend", "wasm"],
      stdout: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(stderr).trim();
    assert.equal(code, 1, text);
    assert.equal(text.split("\n").length, 1, text);
    assert.match(text, new RegExp(`read access to ${dir}\\S* was refused`));
    assert.match(text, new RegExp(`--allow-read=runs,node_modules,deno.json,${dir} `));

    const usage = await new Deno.Command("deno", {
      args: ["run", ...args, "--port", "0"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(usage.code, 2);
    assert.match(new TextDecoder().decode(usage.stderr), /give --run <run directory>/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
