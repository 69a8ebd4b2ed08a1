/**
 * Reading PyTorch checkpoints in pure TypeScript: `torch.save` zip files (torch >= 1.6) and
 * `.safetensors` files to a {@linkcode StateDict} of float32 tensors. The pickle inside a
 * torch.save file is read by an allow-listed unpickler: it builds tensors, parameters,
 * `OrderedDict`s and plain containers, refuses every other global and opcode by name, and never
 * executes anything. Every failure is a one-line {@linkcode CheckpointError} naming the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, readStateDict } from "./mod.ts";
 * const header = new TextEncoder().encode(
 *   JSON.stringify({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }),
 * );
 * const bytes = new Uint8Array([...new Uint8Array(8), ...header, 0x00, 0x3c, 0x00, 0xc0]);
 * new DataView(bytes.buffer).setUint32(0, header.length, true);
 * assert.deepEqual(readStateDict(bytes).get("w")?.data, new Float32Array([1, -2]));
 * const truncated = bytes.subarray(0, 20);
 * assert.throws(() => readStateDict(truncated, { source: "w.safetensors" }), CheckpointError);
 * ```
 *
 * @module
 */
export { CheckpointError } from "./errors.ts";
export type { ReadCheckpointOptions, StateDict, TorchTensor } from "./types.ts";
export { readStateDict } from "./read.ts";
export { readTorchZip } from "./torch_zip.ts";
export { readSafetensors } from "./safetensors.ts";
