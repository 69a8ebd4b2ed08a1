// Internal: the --threads flag shared by the commands that compute on the wasm backend.
import { defaultWasmThreads, setWasmThreads } from "../mod.ts";
import { type FlagSpec, UsageError } from "./_args.ts";

/** `--threads`: how many threads the wasm backend computes with. */
export const THREADS_FLAG: FlagSpec = {
  type: "string",
  description: "threads for the wasm backend (default: every core, at most 8)",
};

/** The `--threads` value as a count (0 when not given: every core); a bad one is a UsageError. */
export function threadsFlag(value: unknown): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new UsageError(`--threads must be a whole number from 1 to 8, got ${value}`);
  }
  return n;
}

/** Starts the wasm backend with the `--threads` count (every core when not given). */
export async function applyThreads(value: unknown): Promise<number> {
  const threads = threadsFlag(value);
  return await setWasmThreads(threads > 0 ? threads : defaultWasmThreads());
}
