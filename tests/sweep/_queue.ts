// Internal test helper: a sweep through BullMQ on Debian's redis-server (a free port, its own
// temp dir) with two worker processes, one of which is killed with SIGKILL in mid-trial.
import assert from "node:assert/strict";
import { readSweepLog } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

export const REDIS_SERVER = "/usr/bin/redis-server";
export const hasRedis = (() => {
  try {
    return Deno.statSync(REDIS_SERVER).isFile;
  } catch {
    return false;
  }
})();

/** A task's command line from deno.json, run as `deno run …` directly (so a kill reaches it). */
async function taskArgs(name: string): Promise<string[]> {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json"));
  const words = (tasks[name] as string).split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1);
}

interface Child {
  process: Deno.ChildProcess;
  lines: string[];
  done: Promise<void>;
}

function spawn(args: string[]): Child {
  const process = new Deno.Command("deno", { args, stdout: "piped", stderr: "piped" }).spawn();
  const lines: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
    if (rest) lines.push(rest);
  };
  const done = Promise.all([pump(process.stdout), pump(process.stderr)]).then(() => {});
  return { process, lines, done };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const exists = async (path: string) => {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
};

/**
 * Runs a 2-trial sweep over `fixed` through the queue with workers w1 and w2, kills w1 with
 * SIGKILL once its trial has a checkpoint, and checks every trial ends exactly once.
 */
export async function killedWorkerSweep(
  fixed: Record<string, unknown>,
  prepare?: (dir: string) => Promise<Record<string, unknown>>,
  lockMs = 5000,
): Promise<void> {
  const dir = await tempDir("sweep-queue-");
  const port = freePort();
  const redis = new Deno.Command(REDIS_SERVER, {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `redis://127.0.0.1:${port}`;
  const children: Child[] = [];
  try {
    await until("redis-server", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    const extra = prepare ? await prepare(dir) : {};
    const queueName = `q${port}`;
    const sweep = spawn([
      ...await taskArgs("sweep"),
      "--queue",
      url,
      "--queue-name",
      queueName,
      "--name",
      "q",
      "--out",
      dir,
      "--trials",
      "2",
      "--seed",
      "5",
      "--fixed",
      JSON.stringify({ ...fixed, ...extra }),
      "--space",
      JSON.stringify({ lr: { log_uniform: [1e-3, 3e-3] } }),
    ]);
    children.push(sweep);
    const workerArgs = await taskArgs("worker");
    const worker = (id: string) =>
      spawn([
        ...workerArgs,
        "--queue",
        url,
        "--queue-name",
        queueName,
        "--id",
        id,
        // Long enough that a busy machine's slow steps never let a live worker's lock lapse.
        "--lock-ms",
        String(lockMs),
      ]);
    const w1 = worker("w1");
    children.push(w1);
    // w1 takes the first trial; w2 starts once it has, so it takes the second.
    let victim = "";
    await until("w1's first trial", () => {
      victim = /^w1 start (t\d+)/m.exec(w1.lines.join("\n"))?.[1] ?? "";
      return victim !== "";
    }, 60_000);
    const w2 = worker("w2");
    children.push(w2);
    const runDir = `${dir}/q/${victim}`;
    await until(
      `a checkpoint of ${victim}`,
      () => exists(`${runDir}/checkpoints/last/state.json`),
      120_000,
    );
    assert.ok(!await exists(`${runDir}/evaluation.json`), `${victim} ended before the kill`);
    w1.process.kill("SIGKILL");
    await w1.process.status;
    const status = await sweep.process.status;
    await sweep.done;
    assert.equal(status.code, 0, sweep.lines.slice(-30).join("\n"));
    const records = await readSweepLog(`${dir}/q`);
    assert.deepEqual(records.map((r) => r.trial).sort(), ["t000", "t001"]);
    for (const record of records) assert.equal(record.status, "done", record.error ?? "");
    const killed = records.find((r) => r.trial === victim)!;
    assert.equal(killed.worker, "w2");
    assert.equal(killed.resumed, true, w2.lines.join("\n"));
    assert.equal(killed.epochs, Number(fixed.epochs));
    const w2log = w2.lines.join("\n");
    assert.match(w2log, new RegExp(`w2 start ${victim} \\(partial\\)`));
    assert.equal(w2log.match(new RegExp(`w2 done ${victim}`, "g"))?.length, 1);
    w2.process.kill("SIGTERM");
    await w2.process.status;
  } finally {
    for (const child of children) {
      try {
        child.process.kill("SIGKILL");
      } catch { /* already ended */ }
      await child.process.status;
    }
    redis.kill("SIGTERM");
    await redis.status;
    await Deno.remove(dir, { recursive: true });
  }
}
