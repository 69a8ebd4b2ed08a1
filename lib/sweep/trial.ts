/**
 * One sweep trial as an ordinary training run: its train flags, a `deno task train` child
 * process that starts or resumes it, and its outcome read back from the run directory.
 *
 * @module
 */
import { join } from "../_internal/path.ts";
import type { SweepObjective } from "./config.ts";
import type { ParamValue, TrialParams } from "./space.ts";

/** A trial the sweep has planned: its place, its directory name and its values. */
export interface PlannedTrial {
  /** 0-based position in the plan. */
  index: number;
  /** Run directory name, `t000`, `t001`, … */
  name: string;
  /** Values by train flag name. */
  params: TrialParams;
}

/** What a finished (or failed) trial left behind. */
export interface TrialOutcome {
  /** `done` when the run wrote evaluation.json. */
  status: "done" | "failed";
  /** The objective metric's best value over the epochs; null without one. */
  objective: number | null;
  /** Epochs in metrics.jsonl. */
  epochs: number;
  /** The objective metric per epoch (the validation curve). */
  curve: number[];
  /** Whether the last attempt resumed from a checkpoint. */
  resumed: boolean;
  /** Wall-clock seconds of the last attempt. */
  seconds: number;
  /** Why it failed (one line), when it did. */
  error?: string;
}

/** How far a trial's run directory got. */
export type TrialState = "new" | "partial" | "done";

/** A trial process that failed; the message carries its last error line. */
export class TrialError extends Error {
  /** Always `TrialError`. */
  override name = "TrialError";
}

const kebab = (name: string) =>
  name.replace(/_/g, "-").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The `deno task train` flags for a trial's values: `{ lr: 0.01, batch_size: 32 }` becomes
 * `--lr 0.01 --batch-size 32` (snake, camel and kebab names all work; `true` is a bare flag).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainArgs } from "./trial.ts";
 * assert.deepEqual(trainArgs({ batch_size: 32, cache: false }), ["--batch-size", "32", "--no-cache"]);
 * ```
 */
export function trainArgs(params: Record<string, ParamValue>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const flag = kebab(key);
    if (value === true) args.push(`--${flag}`);
    else if (value === false) args.push(`--no-${flag}`);
    else args.push(`--${flag}`, String(value));
  }
  return args;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Whether a trial's run directory is finished (`evaluation.json`), resumable (a last
 * checkpoint) or new.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trialState } from "./trial.ts";
 * assert.equal(await trialState("runs/no-such-sweep/t000"), "new");
 * ```
 */
export async function trialState(runDir: string): Promise<TrialState> {
  if (await exists(join(runDir, "evaluation.json"))) return "done";
  if (await exists(join(runDir, "checkpoints", "last", "state.json"))) return "partial";
  return "new";
}

/**
 * The objective's per-epoch values in a `metrics.jsonl` text (a resumed epoch counts once).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curveOf } from "./trial.ts";
 * const text = '{"epoch":1,"val_accuracy":0.5}\n{"epoch":2,"val_accuracy":0.7}\n{"epoch":2,"val_accuracy":0.8}\n';
 * assert.deepEqual(curveOf(text, "val_accuracy"), [0.5, 0.8]);
 * ```
 */
export function curveOf(metricsJsonl: string, metric: string): number[] {
  const byEpoch = new Map<number, number>();
  for (const line of metricsJsonl.split("\n")) {
    if (line.trim() === "") continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      continue; // a line cut short by a kill
    }
    const value = row[metric];
    if (typeof row.epoch === "number" && typeof value === "number") byEpoch.set(row.epoch, value);
  }
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}

/**
 * Reads a finished trial's outcome from its run directory (`metrics.jsonl`, `evaluation.json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrialOutcome } from "./trial.ts";
 * const outcome = await readTrialOutcome("runs/no-such-sweep/t000", { metric: "val_loss", direction: "min" });
 * assert.equal(outcome.status, "failed");
 * ```
 */
export async function readTrialOutcome(
  runDir: string,
  objective: SweepObjective,
): Promise<TrialOutcome> {
  const state = await trialState(runDir);
  let text = "";
  try {
    text = await Deno.readTextFile(join(runDir, "metrics.jsonl"));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const curve = curveOf(text, objective.metric);
  const pick = objective.direction === "max" ? Math.max : Math.min;
  return {
    status: state === "done" ? "done" : "failed",
    objective: curve.length > 0 ? pick(...curve) : null,
    epochs: curve.length,
    curve,
    resumed: false,
    seconds: 0,
    ...(state === "done" ? {} : { error: `${runDir}: no evaluation.json` }),
  };
}

/** Options of {@linkcode runTrainTrial}. */
export interface RunTrainTrialOptions {
  /** Train flags every trial shares (before the trial's own values). */
  fixed?: Record<string, ParamValue>;
  /** Stops the child process (SIGTERM). */
  signal?: AbortSignal;
  /** Receives the child's output lines. Default: dropped. */
  log?: (line: string) => void;
  /** The executable. Default: `deno`. */
  deno?: string;
}

/**
 * Trains one trial in a `deno task train` child process (the train task's permissions): a new
 * run with the trial's flags, or `--resume` from its last checkpoint when one exists.
 *
 * @example
 * ```ts ignore
 * import { runTrainTrial } from "./trial.ts";
 * const outcome = await runTrainTrial("runs/lr", { index: 0, name: "t000", params: { lr: 0.01 } },
 *   { metric: "val_accuracy", direction: "max" }, { fixed: { epochs: 1 } });
 * console.log(outcome.objective);
 * ```
 */
export async function runTrainTrial(
  sweepDir: string,
  trial: PlannedTrial,
  objective: SweepObjective,
  options: RunTrainTrialOptions = {},
): Promise<TrialOutcome> {
  const runDir = join(sweepDir, trial.name);
  const state = await trialState(runDir);
  if (state === "done") return await readTrialOutcome(runDir, objective);
  const args = state === "partial" ? ["--resume", runDir] : [
    ...trainArgs({ ...options.fixed, ...trial.params }),
    "--out",
    sweepDir,
    "--name",
    trial.name,
  ];
  const started = performance.now();
  const child = new Deno.Command(options.deno ?? "deno", {
    args: ["task", "train", ...args, "--json"],
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
  const lines: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split(/\r?\n|\r/);
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 50) lines.shift();
        options.log?.(line);
      }
    }
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  const outcome = await readTrialOutcome(runDir, objective);
  outcome.resumed = state === "partial";
  outcome.seconds = Math.round((performance.now() - started) / 100) / 10;
  if (!status.success) {
    const last = lines.filter((line) => /error/i.test(line)).at(-1) ?? lines.at(-1) ?? "";
    outcome.status = "failed";
    outcome.error = `train exited with ${status.signal ?? status.code}: ${last.trim()}`;
  }
  return outcome;
}
