// `deno task worker --queue redis://host:port`: takes sweep trials from the BullMQ queue and
// trains them here, one at a time, until Ctrl-C or SIGTERM (the trial in progress finishes).
import { parseQueueUrl } from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";

const FLAGS: FlagSpecs = {
  queue: { type: "string", description: "redis://host:port of the sweep's redis-server" },
  "queue-name": { type: "string", description: "BullMQ queue", default: "denovision-trials" },
  id: { type: "string", description: "this worker's name in sweep.jsonl (default: worker-<pid>)" },
  "lock-ms": {
    type: "string",
    description: "job lock and stall check period; a dead worker's trial moves after ~2x",
    default: "30000",
  },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task worker --queue redis://host:port [options]",
  "Trains sweep trials from the queue into <out>/<sweep>/<trial>/ (a shared runs folder, or a\n" +
    "local one: metrics.jsonl and evaluation.json go back through the queue). A trial whose worker\n" +
    "died is taken again after the lock expires and resumes from its last checkpoint.",
  FLAGS,
  [
    "redis-server --bind 0.0.0.0 --port 6379 --protected-mode no   # on one machine",
    "deno task worker --queue redis://10.0.0.5:6379                # on each machine",
  ],
);

/** Runs the worker command; returns the process exit code. */
export async function workerCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; options start with --`);
  }
  const url = values.queue as string | undefined;
  if (url === undefined) throw new UsageError("--queue redis://host:port is required");
  try {
    parseQueueUrl(url);
  } catch (error) {
    throw new UsageError(`--queue: ${(error as Error).message}`);
  }
  const lockMs = Number(values["lock-ms"]);
  if (!Number.isInteger(lockMs) || lockMs < 500) {
    throw new UsageError(`--lock-ms: expected an integer ≥ 500, found '${values["lock-ms"]}'`);
  }
  // Loaded here only: the queue client reads the environment (see lib/sweep/queue.ts).
  const { startTrialWorker } = await import("../lib/sweep/queue.ts");
  const worker = await startTrialWorker({
    url,
    queueName: values["queue-name"] as string,
    id: values.id as string | undefined,
    lockMs,
    log: (line) => console.log(line),
  });
  console.log(`Worker ${values.id ?? `worker-${Deno.pid}`} waiting for trials on ${url}`);
  const stop = () => {
    console.log("Stopping: the trial in progress finishes first");
    worker.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await worker.closed;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  return 0;
}
