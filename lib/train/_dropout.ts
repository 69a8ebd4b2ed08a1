// Internal: reproducible dropout. tfjs-layers' Dropout draws its mask from an unseeded generator
// (or, given a seed, the same mask on every call), so two runs with the same seed differ and a
// resumed run cannot match an uninterrupted one. While `withDropoutSeed` runs a training step,
// each Dropout call without a seed of its own gets one derived from (run seed, epoch, step, call
// index): masks are fresh every step and replay exactly. The layer's class and config stay
// tfjs's own, so exported models load anywhere.
import * as tfl from "@tensorflow/tfjs-layers";
import { mixSeed } from "../_internal/rng.ts";

type DropoutLike = { seed?: number; call(inputs: unknown, kwargs: unknown): unknown };

let stream: { parts: number[]; calls: number } | null = null;

const prototype = Object.getPrototypeOf(tfl.layers.dropout({ rate: 0.5 })) as DropoutLike;
const original = prototype.call;
if (!(original as { seeded?: boolean }).seeded) {
  const call = function (this: DropoutLike, inputs: unknown, kwargs: unknown) {
    if (stream === null || this.seed !== undefined) return original.call(this, inputs, kwargs);
    // seedrandom takes the seed as a string of the number; keep it a safe integer.
    this.seed = mixSeed(...stream.parts, stream.calls++);
    try {
      return original.call(this, inputs, kwargs);
    } finally {
      this.seed = undefined;
    }
  };
  (call as { seeded?: boolean }).seeded = true;
  prototype.call = call;
}

/** Runs `body` (a synchronous training step) with dropout masks seeded by `parts`. */
export function withDropoutSeed<T>(parts: number[], body: () => T): T {
  const previous = stream;
  stream = { parts, calls: 0 };
  try {
    return body();
  } finally {
    stream = previous;
  }
}
