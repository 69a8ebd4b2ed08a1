// Internal: the transforms a `compose` was built from, kept beside it. Its spec (names and
// options) is what crosses to a worker; in this process the loader splits off a trailing
// `normalize` from the parts themselves, so a custom transform in the pipeline stays itself
// instead of being rebuilt from a spec no factory knows.
import type { Transform } from "./types.ts";

const parts = new WeakMap<Transform, readonly Transform[]>();

/** Records that `composed` applies `transforms` in order. */
export function recordParts(composed: Transform, transforms: readonly Transform[]): void {
  parts.set(composed, transforms);
}

/** The transforms `composed` was built from, when it is a compose of this process. */
export function partsOf(composed: Transform): readonly Transform[] | undefined {
  return parts.get(composed);
}
