// Internal test helpers: a tiny run directory (random compact-cnn weights) and `deno task serve`
// on it as a child process, with the task's own permissions (read widened to the test's run).
import { join } from "node:path";
import { createModel, fileHandler, normalize, useBackend } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

/** The photo the tests post. */
export const BEE = "../shared/datasets/hymenoptera/val/bees/1032546534_06907fe3b3.jpg";
/** The classes of the tiny run. */
export const CLASSES = ["ants", "bees", "wasps"];

/** Writes a run directory (config.json, model/ with preprocessing.json) under data/.test/. */
export async function makeRun(prefix: string): Promise<string> {
  await useBackend("wasm");
  const dir = await tempDir(prefix);
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 3, seed: 0 });
  await model.save(fileHandler(join(dir, "model")));
  model.dispose();
  // The part of a run's config.json that serving reads.
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ model: "compact-cnn" }));
  const norm = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  await Deno.writeTextFile(
    join(dir, "model", "preprocessing.json"),
    JSON.stringify({
      classes: CLASSES,
      inputShape: [32, 32, 3],
      transform: { name: norm.name, options: norm.options },
    }),
  );
  return dir;
}

/** A running `deno task serve` child. */
export interface ServeChild {
  child: Deno.ChildProcess;
  url: string;
  /** Everything it wrote to stderr so far. */
  stderr: () => string;
  /** Resolves with its exit status once it has exited. */
  status: Promise<Deno.CommandStatus>;
}

/** The serve task's `deno run` flags from deno.json, reading `runDir` instead of `runs`. */
export function serveTaskArgs(runDir: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync("deno.json"));
  const line: string = config.tasks.serve;
  const args = line.replace(/^deno run /, "").split(/\s+/);
  return args.map((arg) => arg.replace(/^--allow-read=runs,/, `--allow-read=${runDir},`));
}

/** Starts `deno task serve --run runDir` on a free port and waits until it listens. */
export async function spawnServe(runDir: string, extra: string[] = []): Promise<ServeChild> {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      ...serveTaskArgs(runDir),
      "--run",
      runDir,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--backend",
      "wasm",
      ...extra,
    ],
    stdout: "null",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  let listening: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => listening = resolve);
  const reading = (async () => {
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      const match = / at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
      if (match) listening(match[1]);
    }
  })();
  const status = child.status.then(async (status) => {
    await reading;
    return status;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`serve did not start in 30 s:\n${text}`)), 30_000);
  });
  const exited = status.then((s): never => {
    throw new Error(`serve exited with ${s.code} before listening:\n${text}`);
  });
  exited.catch(() => {});
  try {
    return { child, url: await Promise.race([url, timeout, exited]), stderr: () => text, status };
  } finally {
    clearTimeout(timer);
  }
}

/** Kills the child if it is still running and waits for it (for `finally` blocks). */
export async function stop(served: ServeChild | undefined): Promise<void> {
  if (served === undefined) return;
  try {
    served.child.kill("SIGKILL");
  } catch { /* already exited */ }
  await served.status;
}
