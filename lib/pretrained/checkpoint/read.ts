/**
 * `readStateDict`: a checkpoint's state dict, whatever its format.
 *
 * @module
 */
import { safetensorsHeaderLength } from "./_common.ts";
import { describeMagic } from "../../decode/sniff.ts";
import { CheckpointError } from "./errors.ts";
import { readSafetensors } from "./safetensors.ts";
import { readTorchZip } from "./torch_zip.ts";
import type { ReadCheckpointOptions, StateDict } from "./types.ts";

/** The magic number torch.save's legacy (pre-1.6, non-zip) format pickles first. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/** safetensors' own cap on the JSON header (100 MB). */
const MAX_SAFETENSORS_HEADER = 100_000_000;
const RESAVE =
  "re-save it with torch >= 1.6 as `torch.save(state_dict, f)` (the default zip format)";

/** The format of a checkpoint's bytes, by their first bytes. */
type CheckpointFormat = "torch-zip" | "safetensors" | "legacy-torch" | "pickle" | "unknown";

function sniff(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    if ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06)) {
      return "torch-zip";
    }
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) {
    const legacy = LEGACY_MAGIC.every((byte, i) => bytes[2 + i] === byte);
    return legacy ? "legacy-torch" : "pickle";
  }
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    const length = safetensorsHeaderLength(bytes);
    // A truncated file still sniffs as safetensors, so that its error says so.
    if (length >= 2 && length <= MAX_SAFETENSORS_HEADER) return "safetensors";
  }
  return "unknown";
}

/**
 * The state dict in a checkpoint's bytes, the format sniffed from them: a `torch.save` zip
 * (`PK\x03\x04`, read by {@linkcode readTorchZip}) or a `.safetensors` file (a u64 LE header
 * length then JSON, read by {@linkcode readSafetensors}). torch.save's legacy non-zip format
 * and bare pickles are refused with advice to re-save with torch >= 1.6.
 *
 * @throws {CheckpointError} for an unknown, refused, truncated or corrupt file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readStateDict } from "./mod.ts";
 * const header = new TextEncoder().encode(
 *   JSON.stringify({ steps: { dtype: "I64", shape: [], data_offsets: [0, 8] } }),
 * );
 * const bytes = new Uint8Array(8 + header.length + 8);
 * const view = new DataView(bytes.buffer);
 * view.setUint32(0, header.length, true);
 * bytes.set(header, 8);
 * view.setBigInt64(8 + header.length, 7n, true);
 * const weights = readStateDict(bytes);
 * assert.equal(weights.get("steps")?.dtype, "int64");
 * assert.deepEqual(weights.get("steps")?.data, new Float32Array([7]));
 * assert.throws(
 *   () => readStateDict(new TextEncoder().encode("<html>"), { source: "model.pth" }),
 *   /^CheckpointError: model\.pth: unknown checkpoint format/,
 * );
 * ```
 */
export function readStateDict(bytes: Uint8Array, options: ReadCheckpointOptions = {}): StateDict {
  const format = sniff(bytes);
  if (format === "torch-zip") return readTorchZip(bytes, options);
  if (format === "safetensors") return readSafetensors(bytes, options);
  throw new CheckpointError(refusal(format, bytes), options.source);
}

function refusal(format: CheckpointFormat, bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty file";
  if (format === "legacy-torch") {
    return `is in torch.save's legacy (pre-1.6) format, which is not read; ${RESAVE}`;
  }
  if (format === "pickle") return `is a bare pickle, not a torch.save zip archive; ${RESAVE}`;
  return `unknown checkpoint format (starts with ${describeMagic(bytes)}); expected a ` +
    "torch.save zip (.pth, .pt) or a .safetensors file";
}
