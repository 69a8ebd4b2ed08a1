/**
 * `readSafetensors`: the tensors in a `.safetensors` file.
 *
 * @module
 */
import { asCheckpointError, fail, safetensorsHeaderLength } from "./_common.ts";
import { decodeElements, ITEM_SIZE, type StorageDtype } from "./_dtypes.ts";
import { stripModulePrefix } from "./_state_dict.ts";
import type { ReadCheckpointOptions, StateDict } from "./types.ts";

/** safetensors dtype codes and the torch dtype each is. */
const DTYPES: Readonly<Record<string, StorageDtype>> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/** safetensors' own cap on the JSON header (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function loadSafetensors(bytes: Uint8Array): StateDict {
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, less than safetensors' 8-byte header length`);
  }
  const headerLength = safetensorsHeaderLength(bytes);
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`safetensors header length ${headerLength} is over the 100 MB limit (corrupt file?)`);
  }
  if (headerLength > bytes.length - 8) {
    fail(`truncated: the safetensors header needs ${headerLength} bytes, has ${bytes.length - 8}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    ));
  } catch (error) {
    fail(`the safetensors header is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(header)) fail("the safetensors header is not a JSON object");
  const data = bytes.subarray(8 + headerLength);
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!isRecord(info)) fail(`tensor '${name}': header entry is not an object`);
    const { dtype: code, shape, data_offsets: offsets } = info;
    const dtype = typeof code === "string" && Object.hasOwn(DTYPES, code)
      ? DTYPES[code]
      : undefined;
    if (dtype === undefined) {
      fail(`tensor '${name}': dtype ${JSON.stringify(code)} is not one of ${Object.keys(DTYPES)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of sizes`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets;
    if (begin > end || end > data.length) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] lie outside the ${data.length} ` +
          `data bytes${end > data.length ? " (truncated file?)" : ""}`,
      );
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    const needed = numel * ITEM_SIZE[dtype];
    if (end - begin !== needed) {
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ` +
          `${code} of shape [${shape}] needs ${needed}`,
      );
    }
    const values = decodeElements(data.subarray(begin, end), dtype, 0, numel);
    out.set(name, { dtype, shape: [...shape], data: values });
  }
  return stripModulePrefix(out);
}

/**
 * The tensors in the bytes of a `.safetensors` file: an 8-byte little-endian header length, a
 * JSON header of `{name: {dtype, shape, data_offsets}}`, then the raw data. Every entry's
 * offsets are checked against the data and its byte length against its shape and dtype; values
 * become float32. `__metadata__` is skipped.
 *
 * @throws {CheckpointError} for a truncated or inconsistent file, naming the tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "./mod.ts";
 * const header = new TextEncoder().encode(
 *   JSON.stringify({ bias: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }),
 * );
 * const bytes = new Uint8Array(8 + header.length + 8);
 * const view = new DataView(bytes.buffer);
 * view.setUint32(0, header.length, true);
 * bytes.set(header, 8);
 * view.setFloat32(8 + header.length, 0.5, true);
 * view.setFloat32(8 + header.length + 4, -2, true);
 * const weights = readSafetensors(bytes, { source: "tiny.safetensors" });
 * assert.deepEqual(weights.get("bias"), {
 *   dtype: "float32",
 *   shape: [2],
 *   data: new Float32Array([0.5, -2]),
 * });
 * ```
 */
export function readSafetensors(
  bytes: Uint8Array,
  options: ReadCheckpointOptions = {},
): StateDict {
  try {
    return loadSafetensors(bytes);
  } catch (error) {
    throw asCheckpointError(error, options.source);
  }
}
