// Every user-facing task in deno.json answers `--help` with a usage text (exit 0), and each
// standalone script an unknown flag with one `error:` line (exit 2), under the task's own
// permissions: the tests run each task's command line from deno.json as a subprocess.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Tasks that are Deno's own runners (test, fmt/lint/check, bench), not our commands. */
const RUNNERS = new Set(["test", "test:long", "check", "bench:suite"]);

/** The user-facing tasks the issue names; deno.json may add more, never drop these. */
const EXPECTED = [
  "train",
  "eval",
  "predict",
  "bench",
  "serve",
  "sweep",
  "worker",
  "export",
  "explain",
  "info",
  "web",
  "bench:pipeline",
  "bench:mnist",
  "bench:profile",
  "bench:onnx",
];

function userTasks(): Record<string, string> {
  const { tasks } = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as {
    tasks: Record<string, string>;
  };
  return Object.fromEntries(Object.entries(tasks).filter(([name]) => !RUNNERS.has(name)));
}

/** Runs a task's command line (a plain `deno run ...`) with `extra` appended. */
async function runTask(name: string, line: string, extra: string[]) {
  const [program, ...args] = line.trim().split(/\s+/);
  assert.equal(program, "deno", `${name}: expected a plain 'deno run ...' command, got: ${line}`);
  assert.equal(args[0], "run", `${name}: expected a plain 'deno run ...' command, got: ${line}`);
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: [...args, ...extra],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  // Subprocesses started together wait on each other's node_modules lock and say so on stderr.
  const notes = /^Blocking waiting for file lock on node_modules directory\n/gm;
  const errors = decoder.decode(stderr).replace(notes, "").trim();
  return { name, code, stdout: decoder.decode(stdout), stderr: errors };
}

Deno.test("deno.json: every user-facing task is listed and is a plain deno run", () => {
  const tasks = userTasks();
  for (const name of EXPECTED) assert.ok(name in tasks, `task ${name} is missing from deno.json`);
  for (const [name, line] of Object.entries(tasks)) {
    assert.match(line, /^deno run \S/, `${name}: ${line}`);
  }
});

Deno.test("every user-facing task answers --help with a usage line and examples", async () => {
  const results = await Promise.all(
    Object.entries(userTasks()).map(([name, line]) => runTask(name, line, ["--help"])),
  );
  for (const { name, code, stdout, stderr } of results) {
    assert.equal(code, 0, `deno task ${name} --help exited ${code}: ${stderr}`);
    const command = name.startsWith("bench:") ? name : name.split(":")[0];
    assert.match(
      stdout,
      new RegExp(`^Usage: deno task ${command}( |$)`, "m"),
      `deno task ${name} --help printed:\n${stdout}`,
    );
    const examples = stdout.split("\nExamples:\n")[1] ?? "";
    assert.match(examples, /^ {2}deno task /m, `deno task ${name} --help: no examples`);
  }
});

// The commands of cli/main.ts share its handling (tests/cli/commands_test.ts); these are the
// standalone scripts (bench/*.ts), which used to throw node:util's TypeError.
Deno.test("every standalone task answers an unknown flag with one error line, exit 2", async () => {
  const scripts = Object.entries(userTasks()).filter(([, line]) => !/ cli\/main\.ts /.test(line));
  assert.ok(scripts.length >= 4, scripts.map(([name]) => name).join(", "));
  const results = await Promise.all(
    scripts.map(([name, line]) => runTask(name, line, ["--no-such-flag"])),
  );
  for (const { name, code, stderr } of results) {
    assert.equal(code, 2, `deno task ${name} --no-such-flag exited ${code}: ${stderr}`);
    assert.match(stderr, /^error: /, `deno task ${name}: ${stderr}`);
    assert.equal(stderr.split("\n").length, 1, `deno task ${name}: ${stderr}`);
    assert.doesNotMatch(stderr, /TypeError|\n\s+at /, `deno task ${name}: ${stderr}`);
  }
});
