/**
 * Runs a sweep: plans its trials from the seed, trains the ones not yet in `sweep.jsonl`
 * (N at a time), and records each once in `sweep.jsonl` and `sweep.html`.
 *
 * @module
 */
import { join } from "../_internal/path.ts";
import { writeFileAtomic } from "../io/_atomic.ts";
import { type SweepConfig, SweepConfigError } from "./config.ts";
import { renderSweepHtml } from "./html.ts";
import { gridOf, sampleSpace, seededRandom, type TrialParams } from "./space.ts";
import { proposeTpe } from "./tpe.ts";
import { type PlannedTrial, runTrainTrial, type TrialOutcome } from "./trial.ts";

/** One line of `sweep.jsonl`: a trial's values and outcome. */
export interface TrialRecord extends TrialOutcome {
  /** Trial directory name (`t000`). */
  trial: string;
  /** 0-based position in the plan. */
  index: number;
  /** Values by train flag name. */
  params: TrialParams;
  /** The run directory. */
  run_dir: string;
  /** Who trained it (`local` or a worker's id). */
  worker?: string;
}

/** Trains one planned trial and says how it went. */
export type TrialRunner = (trial: PlannedTrial) => Promise<TrialOutcome & { worker?: string }>;

/** Options of {@linkcode runSweep}. */
export interface RunSweepOptions {
  /** Trains a trial. Default: a `deno task train` child process on this machine. */
  runTrial?: TrialRunner;
  /** Progress lines. Default: dropped. */
  log?: (line: string) => void;
  /** Stops starting trials (those in flight finish). */
  signal?: AbortSignal;
}

/** A sweep's records in plan order, and its best trial. */
export interface SweepResult {
  /** The sweep's directory. */
  dir: string;
  /** Every recorded trial, in plan order. */
  records: TrialRecord[];
  /** The best finished trial, if any. */
  best: TrialRecord | null;
}

/**
 * The trials a grid or random sweep plans, the same for the same seed (so a stopped sweep
 * resumes); a `tpe` sweep proposes each trial when it starts, from the finished ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planTrials, resolveSweepConfig } from "./mod.ts";
 * const config = resolveSweepConfig({ name: "s", strategy: "grid", space: { lr: [0.1, 0.01] } });
 * assert.deepEqual(planTrials(config).map((t) => t.name), ["t000", "t001"]);
 * ```
 */
export function planTrials(config: SweepConfig): PlannedTrial[] {
  let points: TrialParams[];
  if (config.strategy === "tpe") {
    throw new SweepConfigError("tpe proposes each trial from the finished ones: run the sweep");
  }
  if (config.strategy === "grid") {
    points = gridOf(config.space);
    if (config.trials > 0) points = points.slice(0, config.trials);
  } else {
    const random = seededRandom(config.seed);
    points = Array.from({ length: config.trials }, () => sampleSpace(config.space, random));
  }
  return points.map((params, index) => ({
    index,
    name: `t${String(index).padStart(3, "0")}`,
    params,
  }));
}

/**
 * The records of a sweep directory's `sweep.jsonl` (none when it does not exist yet).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSweepLog } from "./mod.ts";
 * assert.deepEqual(await readSweepLog("runs/no-such-sweep"), []);
 * ```
 */
export async function readSweepLog(dir: string): Promise<TrialRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, "sweep.jsonl"));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

/**
 * The best finished trial for the config's objective, or null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bestTrial, type TrialRecord } from "./mod.ts";
 * const base: Omit<TrialRecord, "trial" | "index" | "objective"> = {
 *   status: "done", epochs: 1, curve: [], resumed: false, seconds: 1, params: {}, run_dir: "",
 * };
 * const records = [{ ...base, trial: "t000", index: 0, objective: 0.5 }, { ...base, trial: "t001", index: 1, objective: 0.7 }];
 * assert.equal(bestTrial(records, { metric: "val_accuracy", direction: "max" })?.trial, "t001");
 * ```
 */
export function bestTrial(
  records: TrialRecord[],
  objective: SweepConfig["objective"],
): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const record of records) {
    if (record.status !== "done" || record.objective === null) continue;
    if (
      best === null ||
      (objective.direction === "max"
        ? record.objective > best.objective!
        : record.objective < best.objective!)
    ) best = record;
  }
  return best;
}

/**
 * The folder a sweep writes to: `<out>/<name>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSweepConfig, sweepDirOf } from "./mod.ts";
 * assert.equal(sweepDirOf(resolveSweepConfig({ name: "lr", space: { lr: [0.1] } })), "runs/lr");
 * ```
 */
export function sweepDirOf(config: SweepConfig): string {
  return join(config.out, config.name);
}

/**
 * Runs (or continues) a sweep: `sweep.json` holds its config, each trial trains once into
 * `<out>/<name>/<trial>/`, and `sweep.jsonl` and `sweep.html` are rewritten after each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSweepConfig, runSweep } from "./mod.ts";
 * await Deno.mkdir("data/.test", { recursive: true });
 * const out = await Deno.makeTempDir({ dir: "data/.test" }); // removed below
 * const config = resolveSweepConfig({ name: "s", out, strategy: "grid", space: { lr: [0.1, 0.01] } });
 * const result = await runSweep(config, {
 *   runTrial: async (trial) => ({ status: "done", objective: trial.params.lr as number, epochs: 1,
 *     curve: [trial.params.lr as number], resumed: false, seconds: 0 }),
 * });
 * assert.equal(result.best?.trial, "t000");
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function runSweep(
  config: SweepConfig,
  options: RunSweepOptions = {},
): Promise<SweepResult> {
  const dir = sweepDirOf(config);
  const log = options.log ?? (() => {});
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, "sweep.json"), JSON.stringify(config, null, 2) + "\n");
  const records = await readSweepLog(dir);
  const recorded = new Set(records.map((record) => record.trial));
  // tpe: each trial's values are chosen when it starts and kept in proposals.json, so a resumed
  // sweep trains a half-trained trial with the values it started with.
  const proposalsPath = join(dir, "proposals.json");
  const proposals: Record<string, TrialParams> = config.strategy !== "tpe" ? {} : await Deno
    .readTextFile(proposalsPath).then(JSON.parse).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return {};
      throw error;
    });
  const plan: PlannedTrial[] = config.strategy === "tpe"
    ? Array.from({ length: config.trials }, (_, index) => {
      const name = `t${String(index).padStart(3, "0")}`;
      return { index, name, params: proposals[name] ?? {} };
    })
    : planTrials(config);
  const pending = plan.filter((trial) => !recorded.has(trial.name));
  let proposing = Promise.resolve();
  const propose = async (trial: PlannedTrial) => {
    if (config.strategy !== "tpe" || proposals[trial.name] !== undefined) return;
    const history = records.flatMap((r) =>
      r.status === "done" && r.objective !== null
        ? [{ params: r.params, objective: r.objective }]
        : []
    );
    trial.params = proposeTpe(
      config.space,
      history,
      config.objective.direction,
      seededRandom(config.seed * 1_000_003 + trial.index),
      { startup: Math.max(2, Math.min(5, Math.ceil(config.trials / 4))) },
    );
    proposals[trial.name] = trial.params;
    const text = JSON.stringify(proposals, null, 2) + "\n";
    proposing = proposing.then(() => writeFileAtomic(proposalsPath, text));
    await proposing;
  };
  if (records.length > 0) log(`Resuming: ${records.length} of ${plan.length} trials recorded`);
  const fixed = { ...config.fixed };
  if (config.parallel > 1 && !("threads" in fixed) && !("threads" in config.space)) {
    fixed.threads = Math.max(1, Math.floor(navigator.hardwareConcurrency / config.parallel));
  }
  const runTrial: TrialRunner = options.runTrial ??
    ((trial) => runTrainTrial(dir, trial, config.objective, { fixed, signal: options.signal }));

  let writing = Promise.resolve();
  const save = () => {
    const sorted = [...records].sort((a, b) => a.index - b.index);
    const text = sorted.map((record) => JSON.stringify(record)).join("\n") + "\n";
    const html = renderSweepHtml(config, sorted);
    writing = writing.then(async () => {
      await writeFileAtomic(join(dir, "sweep.jsonl"), text);
      await writeFileAtomic(join(dir, "sweep.html"), html);
    });
    return writing;
  };
  let next = 0;
  const lane = async () => {
    while (next < pending.length && !options.signal?.aborted) {
      const trial = pending[next++];
      await propose(trial);
      log(`${trial.name} start ${JSON.stringify(trial.params)}`);
      let outcome: TrialOutcome & { worker?: string };
      try {
        outcome = await runTrial(trial);
      } catch (error) {
        outcome = {
          status: "failed",
          objective: null,
          epochs: 0,
          curve: [],
          resumed: false,
          seconds: 0,
          error: error instanceof Error ? error.message : String(error),
        };
      }
      if (options.signal?.aborted && outcome.status !== "done") break; // resumed next time
      records.push({
        trial: trial.name,
        index: trial.index,
        params: trial.params,
        run_dir: join(dir, trial.name),
        ...outcome,
      });
      log(
        `${trial.name} ${outcome.status} ${config.objective.metric}=${outcome.objective ?? "-"}` +
          (outcome.error ? ` (${outcome.error})` : ""),
      );
      await save();
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.parallel, pending.length) }, lane));
  await save();
  const sorted = [...records].sort((a, b) => a.index - b.index);
  return { dir, records: sorted, best: bestTrial(sorted, config.objective) };
}
