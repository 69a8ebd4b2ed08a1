/**
 * Typed errors raised while choosing or running a compute backend.
 *
 * @module
 */

/**
 * A backend that was asked for by name could not be initialised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BackendUnavailableError } from "./errors.ts";
 * const error = new BackendUnavailableError("webgpu", "no adapter");
 * assert.ok(error.message === "backend 'webgpu' is unavailable: no adapter");
 * ```
 */
export class BackendUnavailableError extends Error {
  /** Always `BackendUnavailableError`. */
  override name = "BackendUnavailableError";
  /** The backend that failed: `webgpu`, `wasm` or `cpu`. */
  readonly backend: string;
  /** Why it failed, one line. */
  readonly reason: string;
  /** Creates the error for `backend` with a one-line `reason`. */
  constructor(backend: string, reason: string) {
    super(`backend '${backend}' is unavailable: ${reason}`);
    this.backend = backend;
    this.reason = reason;
  }
}

/**
 * The WebGPU device was lost (driver reset, GPU removed, out of memory, or a timeout). Every
 * operation on the backend after the loss throws this error instead of an unrelated one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebGpuDeviceLostError } from "./errors.ts";
 * const error = new WebGpuDeviceLostError("unknown", "GPU hang");
 * assert.ok(error.message.includes("GPU hang"));
 * ```
 */
export class WebGpuDeviceLostError extends Error {
  /** Always `WebGpuDeviceLostError`. */
  override name = "WebGpuDeviceLostError";
  /** `GPUDeviceLostReason` reported by the device: `unknown` or `destroyed`. */
  readonly reason: string;
  /** Creates the error from the device's lost info. */
  constructor(reason: string, detail: string) {
    super(
      `WebGPU device lost (reason: ${reason}${detail ? `, ${detail}` : ""}); ` +
        "restart the process, or pass --backend wasm to train on the CPU",
    );
    this.reason = reason;
  }
}

/**
 * Training stopped because the WebGPU device was lost. The run's `checkpoints/last` holds the
 * last epoch that finished (weights and optimizer state on a lost device cannot be read back),
 * and the message is one line ending with the command that resumes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrainingDeviceLostError } from "./errors.ts";
 * const error = new TrainingDeviceLostError("runs/a", 2, 3, "unknown");
 * assert.match(error.message, /resume with: deno task train --resume runs\/a$/);
 * ```
 */
export class TrainingDeviceLostError extends Error {
  /** Always `TrainingDeviceLostError`. */
  override name = "TrainingDeviceLostError";
  /** The run directory to resume. */
  readonly runDir: string;
  /** Epochs saved in `checkpoints/last` (0: none yet). */
  readonly epochsSaved: number;
  /** Creates the error for a run that had saved `epochsSaved` epochs when epoch `epoch` failed. */
  constructor(runDir: string, epochsSaved: number, epoch: number, reason: string) {
    const saved = epochsSaved > 0
      ? `${runDir}/checkpoints/last holds epoch ${epochsSaved}`
      : `no epoch had finished, so ${runDir}/checkpoints/last was not written`;
    super(
      `WebGPU device lost during epoch ${epoch} (reason: ${reason}); ${saved}; ` +
        (epochsSaved > 0
          ? `add --backend wasm to go on without the GPU, or resume with: ` +
            `deno task train --resume ${runDir}`
          : `run the same command again (add --backend wasm to train without the GPU)`),
    );
    this.runDir = runDir;
    this.epochsSaved = epochsSaved;
  }
}
