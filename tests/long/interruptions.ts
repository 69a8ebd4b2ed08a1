// Crash safety and Ctrl-C, end to end through `deno task train`'s own entry point, in child
// processes (`deno task test:long`):
// - SIGKILL at seeded random moments, resuming each time from the last checkpoint, until the run
//   completes: every checkpoint left behind loads, and the final weights equal an uninterrupted
//   run's, bit for bit;
// - SIGINT mid-epoch: the step finishes, a checkpoint is saved, the resume command is printed,
//   the exit code is 130, and resuming gives the uninterrupted run's weights.
// Prints the figures RELIABILITY.md records.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng } from "../../lib/_internal/rng.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

let EPOCHS = "6";

const FLAGS = [
  "run",
  "--allow-read=.",
  "--allow-write=data",
  "--allow-env=XDG_RUNTIME_DIR",
  "cli/main.ts",
  "train",
];

function trainArgs(dir: string, name: string, resume: boolean) {
  return resume ? ["--resume", join(dir, "runs", name)] : [
    "--dataset",
    join(dir, "photos"),
    "--img-size",
    "32",
    "--model",
    "compact-cnn",
    "--augment",
    "cifar",
    "--epochs",
    EPOCHS,
    "--batch-size",
    "8",
    "--workers",
    "0",
    "--no-cache",
    "--backend",
    "wasm",
    "--out",
    join(dir, "runs"),
    "--name",
    name,
  ];
}

function spawn(args: string[]) {
  return new Deno.Command("deno", {
    args: [...FLAGS, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function finish(child: Deno.ChildProcess) {
  const [status, out, err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code: status.code, signal: status.signal, out, err };
}

async function exists(path: string) {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("SIGKILL at random moments never loses the run; resumes end on the same weights", async () => {
  // Long enough that at least 5 kills land before it finishes: 16 epochs left only 4 once the wasm
  // training kernels got faster, then 24 only 4 after our SIMD kernels (~2× faster again).
  EPOCHS = "64";
  const dir = await tempDir("kill-");
  await makeColorFolder(join(dir, "photos"), { perClass: 40, height: 36, width: 40 });
  const straight = await finish(spawn(trainArgs(dir, "straight", false)));
  assert.equal(straight.code, 0, straight.err);

  const rng = new Rng(2026);
  const last = join(dir, "runs", "killed", "checkpoints", "last");
  let kills = 0, midWrite = 0, resumes = 0;
  for (let attempt = 0; attempt < 60; attempt++) {
    // As a user would: resume once the run directory exists (it may have no checkpoint yet).
    const resume = await exists(join(dir, "runs", "killed", "config.json"));
    if (resume) resumes++;
    const child = spawn(trainArgs(dir, "killed", resume));
    // Kill at a random moment after training starts (the first "Epoch" line), so every attempt
    // makes some progress and the kill can land anywhere: in a step, an evaluation, a save.
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("Epoch ")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    // Every other attempt waits for a checkpoint save to begin (its temporary folder appears)
    // and kills right then, to land inside the write.
    const folder = join(dir, "runs", "killed", "checkpoints");
    let timer: ReturnType<typeof setTimeout>;
    if (attempt % 2 === 1) {
      const poll = () => {
        const saving = [...(function* () {
          try {
            yield* Deno.readDirSync(folder);
          } catch { /* not created yet */ }
        })()].some((e) => e.name.startsWith(".last.") && e.name.endsWith(".tmp"));
        if (saving) child.kill("SIGKILL");
        else timer = setTimeout(poll, 1);
      };
      timer = setTimeout(poll, 1);
    } else {
      timer = setTimeout(() => child.kill("SIGKILL"), rng.next() * 1500);
    }
    while (!(await reader.read()).done) { /* drain */ }
    const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
    const result = { code: status.code, signal: status.signal, err };
    clearTimeout(timer);
    if (result.code === 0) break;
    assert.equal(result.signal, "SIGKILL", result.err);
    kills++;
    // A kill during a checkpoint write leaves a temporary folder beside `last`, never a torn one.
    const leftovers = await exists(folder)
      ? [...Deno.readDirSync(folder)].filter((e) => e.name !== "last" && e.name !== "best")
      : [];
    if (leftovers.length > 0) midWrite++;
    if (await exists(last)) {
      const state = JSON.parse(await Deno.readTextFile(join(last, "state.json")));
      assert.equal(typeof state.progress.epoch, "number", "the last checkpoint is whole");
    }
  }
  assert.ok(kills >= 5, `only ${kills} kills landed`);
  const weights = (name: string) => Deno.readFile(join(dir, "runs", name, "model", "weights.bin"));
  assert.deepEqual(await weights("killed"), await weights("straight"));
  console.log(JSON.stringify({ kills, resumes, kills_during_checkpoint_write: midWrite }));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGINT mid-epoch: finish the step, save, print the resume command, exit 130", async () => {
  EPOCHS = "6";
  const dir = await tempDir("sigint-");
  await makeColorFolder(join(dir, "photos"), { perClass: 40, height: 36, width: 40 });
  const straight = await finish(spawn(trainArgs(dir, "straight", false)));
  assert.equal(straight.code, 0, straight.err);

  const child = spawn(trainArgs(dir, "stopped", false));
  // Plain (non-TTY) progress prints "Epoch 3/6" when epoch 3 starts: interrupt soon after.
  let seen = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!seen.includes("Epoch 3/6\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(status.code, 130, `${seen}\n${err}`);
  const runDir = join(dir, "runs", "stopped");
  assert.match(seen, /Interrupted: finishing the step and saving a checkpoint/);
  assert.ok(seen.includes(`Resume with: deno task train --resume ${runDir}`), seen);
  const state = JSON.parse(
    await Deno.readTextFile(join(runDir, "checkpoints", "last", "state.json")),
  );
  console.log(JSON.stringify({ interrupted_at: state.progress }));

  const resumed = await finish(spawn(trainArgs(dir, "stopped", true)));
  assert.equal(resumed.code, 0, resumed.err);
  const weights = (name: string) => Deno.readFile(join(dir, "runs", name, "model", "weights.bin"));
  assert.deepEqual(await weights("stopped"), await weights("straight"));
  await Deno.remove(dir, { recursive: true });
});
