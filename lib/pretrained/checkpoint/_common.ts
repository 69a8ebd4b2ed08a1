/**
 * Internal helpers shared by the readers: error wrapping and byte descriptions.
 *
 * @module
 */
import { CheckpointError } from "./errors.ts";

/**
 * `error` as a one-line {@linkcode CheckpointError} naming `source`: a `CheckpointError` keeps its
 * detail; anything else (a `RangeError` from a corrupt length, a library's `Error`) becomes
 * "corrupt checkpoint (…)", so that no raw error leaks out of the readers.
 */
export function asCheckpointError(error: unknown, source: string | undefined): CheckpointError {
  if (error instanceof CheckpointError) {
    const detail = printable(error.detail);
    return detail === error.detail ? error.withSource(source) : new CheckpointError(detail, source);
  }
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new CheckpointError(
    `corrupt checkpoint (${printable(text.replace(/\s+/g, " ").trim())})`,
    source,
  );
}

/**
 * `text` with control characters and line separators escaped (`\n`, `\x00`), so that names a
 * file supplies (a pickle global, a storage key, a tensor name) keep messages on one line.
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

/** Throws a {@linkcode CheckpointError} without a source; the public readers add it. */
export function fail(detail: string): never {
  throw new CheckpointError(detail);
}

/** A short, one-line rendering of an unpickled value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "None";
  if (value === undefined) return "nothing (a missing memo entry?)";
  if (value instanceof Map) return `a dict of ${value.size}`;
  if (Array.isArray(value)) return `a list/tuple of ${value.length}`;
  if (value instanceof Uint8Array) return `bytes (${value.length})`;
  if (typeof value === "string") return `the string '${value.slice(0, 40)}'`;
  if (typeof value === "function") return "a global";
  return `${typeof value} ${String(value).slice(0, 40)}`;
}

/** A safetensors file's JSON header length: its first 8 bytes, u64 little-endian. */
export function safetensorsHeaderLength(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
}
