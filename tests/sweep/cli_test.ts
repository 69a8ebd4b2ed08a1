import assert from "node:assert/strict";
import { UsageError } from "../../cli/_args.ts";
import { sweepCommand } from "../../cli/sweep.ts";
import { workerCommand } from "../../cli/worker.ts";

async function quietly<T>(body: () => Promise<T>): Promise<{ result: T; out: string }> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
  try {
    return { result: await body(), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("sweep and worker: --help, and bad input is one usage line before any work", async () => {
  const { result, out } = await quietly(() => sweepCommand(["--help"]));
  assert.equal(result, 0);
  assert.match(out, /--parallel/);
  assert.match(out, /deno task sweep --resume runs\/lr/);
  await assert.rejects(() => sweepCommand(["--name", "x"]), /give a search space/);
  await assert.rejects(() => sweepCommand(["--space", "{lr"]), /--space: not valid JSON/);
  await assert.rejects(
    () => sweepCommand(["--space", '{"lr": [0.1]}', "--strategy", "bayes"]),
    /strategy: expected grid, random or tpe/,
  );
  await assert.rejects(
    () => sweepCommand(["--space", '{"lr": [0.1]}', "--queue", "localhost:6379"]),
    /--queue: expected redis:\/\/host:port/,
  );
  await assert.rejects(() => sweepCommand(["--parallell", "2"]), /did you mean --parallel\?/);
  await assert.rejects(() => workerCommand([]), UsageError);
  await assert.rejects(() => workerCommand(["--queue", "http://x"]), /--queue: expected redis/);
  const help = await quietly(() => workerCommand(["--help"]));
  assert.match(help.out, /redis-server --bind/);
});
