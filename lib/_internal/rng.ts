// Internal: a small, fast, seedable PRNG (mulberry32 over a splitmix32-mixed seed). Determinism
// matters more than quality here: splits, shuffles and augmentations must replay exactly.

/** Mixes any number of integers into one 32-bit seed (splitmix32 steps). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A seeded generator of floats in [0, 1). */
export class Rng {
  #state: number;

  /** Seeds the generator from any number of integers (e.g. seed, epoch, index). */
  constructor(...seed: number[]) {
    this.#state = mixSeed(...seed);
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/**
 * Runs `body` with `Math.random` replaced by a generator seeded from `seed`. tfjs draws the seed
 * of every unseeded initializer and random op from `Math.random`, so building a model inside this
 * gives the same weights for the same seed, whatever initializers its layers use.
 */
export function withSeededMathRandom<T>(seed: readonly number[], body: () => T): T {
  const rng = new Rng(...seed);
  const random = Math.random;
  Math.random = () => rng.next();
  try {
    return body();
  } finally {
    Math.random = random;
  }
}
