// `deno task sweep`: a thin layer over resolveSweepConfig + runSweep. Trials train on this
// machine N at a time (`deno task train` child processes), or through a BullMQ queue that
// `deno task worker` processes take from (--queue redis://host:port).
import {
  parseQueueUrl,
  resolveSweepConfig,
  runSweep,
  type SweepConfig,
  type TrialRunner,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";
import { readConfigFile } from "./_config.ts";

const FLAGS: FlagSpecs = {
  config: { type: "string", description: "JSON file: name, strategy, space, fixed, trials, …" },
  name: { type: "string", description: "sweep name; trials go to <out>/<name>/<trial>/" },
  out: { type: "string", description: "parent folder of sweeps", default: "runs" },
  strategy: { type: "string", description: "grid, random or tpe", default: "random" },
  space: { type: "string", description: 'JSON: {"lr": {"log_uniform": [1e-4, 1e-2]}, …}' },
  fixed: { type: "string", description: 'JSON of train flags every trial shares: {"epochs": 1}' },
  trials: { type: "string", description: "trial budget (grid: 0 means the whole grid)" },
  metric: {
    type: "string",
    description: "metrics.jsonl column to optimise",
    default: "val_accuracy",
  },
  direction: { type: "string", description: "max or min (default: min for *loss, else max)" },
  seed: { type: "string", description: "seed of the random draws", default: "0" },
  parallel: {
    type: "string",
    description: "trials training at once on this machine",
    default: "1",
  },
  queue: {
    type: "string",
    description: "redis://host:port: trials go to `deno task worker` processes through BullMQ",
  },
  "queue-name": { type: "string", description: "BullMQ queue", default: "denovision-trials" },
  resume: { type: "string", description: "continue the sweep in this folder (its sweep.json)" },
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task sweep [options]",
  "Searches train flags: each trial is an ordinary run directory <out>/<name>/<trial>/; one line\n" +
    "per trial in sweep.jsonl; sweep.html shows a sortable table, parallel coordinates and curves.\n" +
    "Ctrl-C starts no more trials; --resume <dir> continues (a partly trained trial resumes from\n" +
    "its last checkpoint).",
  FLAGS,
  [
    "deno task sweep --config sweep.json",
    `deno task sweep --name lr --trials 8 --parallel 2 --fixed '{"epochs": 3}' \\`,
    `    --space '{"lr": {"log_uniform": [1e-4, 1e-2]}, "batch-size": [32, 64]}'`,
    `deno task sweep --name grid --strategy grid --space '{"model": ["compact-cnn", "lenet"]}'`,
    "deno task sweep --resume runs/lr",
    "deno task sweep --config sweep.json --queue redis://10.0.0.5:6379   # + deno task worker",
  ],
);

function json(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--${flag}: not valid JSON (${(error as Error).message})`);
  }
}

/** Runs the sweep command; returns the process exit code. */
export async function sweepCommand(args: string[]): Promise<number> {
  const parsed = parseArgs(args, FLAGS);
  const { values, positionals, given } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; options start with --`);
  }
  let raw: Record<string, unknown> = {};
  const resume = values.resume as string | undefined;
  if (resume !== undefined) raw = await readConfigFile(`${resume.replace(/\/+$/, "")}/sweep.json`);
  else if (values.config !== undefined) raw = await readConfigFile(values.config as string);
  for (
    const key of ["name", "out", "strategy", "trials", "metric", "direction", "seed", "parallel"]
  ) {
    if (given.has(key) || (raw[key] === undefined && values[key] !== undefined)) {
      raw[key] = values[key];
    }
  }
  if (given.has("metric") && raw.objective) delete raw.objective;
  if (values.space !== undefined) raw.space = json("space", values.space as string);
  if (values.fixed !== undefined) raw.fixed = json("fixed", values.fixed as string);
  if (raw.name === undefined) {
    raw.name = `sweep-${
      new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
    }`;
  }
  if (raw.space === undefined) {
    throw new UsageError("give a search space: --space JSON or --config FILE");
  }
  let config: SweepConfig;
  try {
    config = resolveSweepConfig(raw);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const controller = new AbortController();
  const onInterrupt = () => {
    console.log("Interrupted: no more trials start; those training save a checkpoint");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const say = values.json
    ? (line: string) => console.error(line)
    : (line: string) => console.log(line);
  let result;
  let queue: { runTrial: TrialRunner; close: () => Promise<void> } | undefined;
  try {
    if (values.queue !== undefined) {
      try {
        parseQueueUrl(values.queue as string);
      } catch (error) {
        throw new UsageError(`--queue: ${(error as Error).message}`);
      }
      // Loaded here only: the queue client reads the environment (see lib/sweep/queue.ts).
      const { queueTrialRunner } = await import("../lib/sweep/queue.ts");
      queue = await queueTrialRunner(config, {
        url: values.queue as string,
        queueName: values["queue-name"] as string,
      });
      say(
        `Trials go to ${values.queue}; start workers with: deno task worker --queue ${values.queue}`,
      );
    }
    result = await runSweep(config, {
      log: say,
      signal: controller.signal,
      runTrial: queue?.runTrial,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await queue?.close();
  }
  const { dir, records, best } = result;
  say(`Sweep ${dir}/: ${records.length} trial(s) recorded in sweep.jsonl; page: ${dir}/sweep.html`);
  if (best) {
    say(
      `Best ${best.trial}: ${config.objective.metric} ${best.objective} with ${
        JSON.stringify(best.params)
      }`,
    );
  }
  if (controller.signal.aborted) say(`Continue with: deno task sweep --resume ${dir}`);
  if (values.json) {
    console.log(JSON.stringify({ sweep_dir: dir, trials: records.length, best: best ?? null }));
  }
  if (controller.signal.aborted) return 130;
  return records.some((r) => r.status === "failed") ? 1 : 0;
}
