/**
 * Distributed sweeps over a BullMQ queue on redis-server: the sweep enqueues each trial once
 * (job id `<sweep>__<trial>`), workers train them in-process, and a worker killed mid-trial
 * leaves a stalled job that another worker takes after the lock expires and resumes from the
 * trial's last checkpoint. Results also come back through the queue (metrics.jsonl and
 * evaluation.json) for machines that share no runs folder.
 *
 * @module
 */
// @ts-types="./_bullmq.d.ts"
import { type Job, Queue, QueueEvents, Worker } from "bullmq";
import { join } from "../_internal/path.ts";
import { writeFileAtomic } from "../io/_atomic.ts";
import { resolveTrainConfig } from "../run/config.ts";
import { nameRun, trainRun } from "../run/train_run.ts";
import type { SweepConfig, SweepObjective } from "./config.ts";
import { DEFAULT_QUEUE_NAME, parseQueueUrl, type RedisAddress } from "./queue_url.ts";
import type { ParamValue } from "./space.ts";
import type { TrialRunner } from "./sweep.ts";
import { type PlannedTrial, readTrialOutcome, type TrialOutcome, trialState } from "./trial.ts";

const connectionOf = (address: RedisAddress) => ({
  host: address.host,
  port: address.port,
  db: address.db,
  maxRetriesPerRequest: null,
});

/** What a trial job carries. */
export interface TrialJobData {
  /** `<out>/<sweep>`: the trial trains into `<sweepDir>/<trial>/`. */
  sweepDir: string;
  trial: PlannedTrial;
  /** Train flags every trial shares. */
  fixed: Record<string, ParamValue>;
  objective: SweepObjective;
}

/** What a worker sends back: the outcome, who trained it, and the run's small result files. */
export interface TrialJobResult extends TrialOutcome {
  worker: string;
  /** `metrics.jsonl` and `evaluation.json` by name (for a sweep without the shared folder). */
  files: Record<string, string>;
}

/** Options of {@linkcode queueTrialRunner} and {@linkcode startTrialWorker}. */
export interface QueueOptions {
  /** `redis://host:port`. */
  url: string;
  /** Default: {@linkcode DEFAULT_QUEUE_NAME}. */
  queueName?: string;
}

/**
 * A trial runner for {@linkcode runSweep} that enqueues each trial once and waits for a worker
 * to finish it; `close()` lets go of the connections.
 *
 * @example
 * ```ts ignore
 * import { queueTrialRunner, resolveSweepConfig, runSweep } from "../../mod.ts";
 * const config = resolveSweepConfig({ name: "lr", space: { lr: [0.01, 0.001] } });
 * const queue = await queueTrialRunner(config, { url: "redis://127.0.0.1:6379" });
 * try {
 *   await runSweep(config, { runTrial: queue.runTrial });
 * } finally {
 *   await queue.close();
 * }
 * ```
 */
export async function queueTrialRunner(
  config: SweepConfig,
  options: QueueOptions,
): Promise<{ runTrial: TrialRunner; close: () => Promise<void> }> {
  const connection = connectionOf(parseQueueUrl(options.url));
  const name = options.queueName ?? DEFAULT_QUEUE_NAME;
  const queue = new Queue<TrialJobData, TrialJobResult>(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const sweepDir = join(config.out, config.name);
  const runTrial: TrialRunner = async (trial) => {
    const job = await queue.add(trial.name, {
      sweepDir,
      trial,
      fixed: config.fixed,
      objective: config.objective,
    }, { jobId: `${config.name}__${trial.name}`, removeOnComplete: false, removeOnFail: false });
    const result = await job.waitUntilFinished(events) as TrialJobResult;
    // No shared folder: keep what came back through the queue beside the sweep.
    const runDir = join(sweepDir, trial.name);
    await Deno.mkdir(runDir, { recursive: true });
    for (const [file, text] of Object.entries(result.files ?? {})) {
      try {
        await Deno.stat(join(runDir, file));
      } catch {
        await writeFileAtomic(join(runDir, file), text);
      }
    }
    const { files: _, ...outcome } = result;
    return outcome;
  };
  return {
    runTrial,
    close: async () => {
      await events.close();
      await queue.close();
    },
  };
}

const camel = (key: string) => key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());

function trainSettings(values: Record<string, ParamValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith("no-") && value === true) out[camel(key.slice(3))] = false;
    else out[camel(key)] = value;
  }
  return out;
}

/**
 * Trains one trial in this process: a new run from its values, or a resumed one from the last
 * checkpoint in its run directory; a finished run is left as it is.
 *
 * @example
 * ```ts ignore
 * import { trainTrialHere } from "./queue.ts";
 * await trainTrialHere("runs/lr", { index: 0, name: "t000", params: { lr: 0.01 } }, { epochs: 1 });
 * ```
 */
export async function trainTrialHere(
  sweepDir: string,
  trial: PlannedTrial,
  fixed: Record<string, ParamValue>,
  log: (line: string) => void = () => {},
): Promise<{ resumed: boolean }> {
  const runDir = join(sweepDir, trial.name);
  const state = await trialState(runDir);
  if (state === "done") return { resumed: false };
  const raw = state === "partial"
    ? {
      ...JSON.parse(await Deno.readTextFile(join(runDir, "config.json"))),
      out: sweepDir,
      name: trial.name,
    }
    : { ...trainSettings(fixed), ...trainSettings(trial.params), out: sweepDir, name: trial.name };
  const config = nameRun(resolveTrainConfig(raw));
  const result = await trainRun(config, { resume: state === "partial", log, warn: log });
  if (result.interrupted) throw new Error(`${runDir}: interrupted`);
  return { resumed: state === "partial" };
}

/** Options of {@linkcode startTrialWorker}. */
export interface TrialWorkerOptions extends QueueOptions {
  /** Shown in sweep.jsonl's `worker` column. Default: `worker-<pid>`. */
  id?: string;
  /**
   * How long a job's lock lasts without renewal, and how often stalled jobs are looked for (ms):
   * a killed worker's trial goes to another worker after about twice this. Default: 30000.
   */
  lockMs?: number;
  /** Progress lines. Default: dropped. */
  log?: (line: string) => void;
}

/**
 * Starts a worker that trains trials from the queue one at a time; `close()` finishes the
 * trial in progress and stops.
 *
 * @example
 * ```ts ignore
 * import { startTrialWorker } from "./queue.ts";
 * const worker = await startTrialWorker({ url: "redis://127.0.0.1:6379", log: console.log });
 * Deno.addSignalListener("SIGTERM", () => worker.close());
 * ```
 */
export async function startTrialWorker(
  options: TrialWorkerOptions,
): Promise<{ close: () => Promise<void>; closed: Promise<void> }> {
  const connection = connectionOf(parseQueueUrl(options.url));
  const id = options.id ?? `worker-${Deno.pid}`;
  const log = options.log ?? (() => {});
  const lockMs = options.lockMs ?? 30_000;
  const worker = new Worker<TrialJobData, TrialJobResult>(
    options.queueName ?? DEFAULT_QUEUE_NAME,
    async (job: Job<TrialJobData, TrialJobResult>) => {
      const { sweepDir, trial, fixed, objective } = job.data;
      const started = performance.now();
      const runDir = join(sweepDir, trial.name);
      log(`${id} start ${trial.name} (${await trialState(runDir)}) ${runDir}`);
      const { resumed } = await trainTrialHere(
        sweepDir,
        trial,
        fixed,
        (line) => log(`${id} ${trial.name} ${line}`),
      );
      const outcome = await readTrialOutcome(runDir, objective);
      const files: Record<string, string> = {};
      for (const file of ["metrics.jsonl", "evaluation.json"]) {
        files[file] = await Deno.readTextFile(join(runDir, file)).catch(() => "");
      }
      log(`${id} done ${trial.name}${resumed ? " (resumed)" : ""}`);
      return {
        ...outcome,
        resumed,
        seconds: Math.round((performance.now() - started) / 100) / 10,
        worker: id,
        files,
      };
    },
    {
      connection,
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 1000,
    },
  );
  await worker.waitUntilReady();
  let resolveClosed = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  return {
    close: async () => {
      await worker.close();
      resolveClosed();
    },
    closed,
  };
}
