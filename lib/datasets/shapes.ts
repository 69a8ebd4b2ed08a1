/**
 * The embedded default dataset: ten classes of shapes drawn at random position, scale, rotation
 * and colour over textured backgrounds with noise, 32×32 RGB. It is generated deterministically in
 * memory from a seed, so `deno task train` works with no network and no files.
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import { InMemoryDataset } from "./in_memory.ts";

/** The shape classes, in label order. Each stays distinct under any rotation. */
export const SHAPE_CLASSES: readonly string[] = [
  "circle",
  "ring",
  "square",
  "triangle",
  "star",
  "cross",
  "dots",
  "crescent",
  "arrow",
  "bars",
];

type Inside = (x: number, y: number) => boolean;

/** Inside a convex polygon given counter-clockwise. */
function convex(points: [number, number][]): Inside {
  return (x, y) => {
    for (let i = 0; i < points.length; i++) {
      const [ax, ay] = points[i];
      const [bx, by] = points[(i + 1) % points.length];
      if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0) return false;
    }
    return true;
  };
}

const TRIANGLE = convex([[0, 0.95], [-0.823, -0.475], [0.823, -0.475]]);

/** Inside tests in shape coordinates: the shape fits the unit disc, y points up. */
const SHAPES: readonly Inside[] = [
  (x, y) => x * x + y * y < 0.81,
  (x, y) => {
    const r2 = x * x + y * y;
    return r2 > 0.3 && r2 < 0.9;
  },
  (x, y) => Math.abs(x) < 0.68 && Math.abs(y) < 0.68,
  TRIANGLE,
  (x, y) => {
    const r = Math.hypot(x, y);
    const phase = ((Math.atan2(y, x) / (2 * Math.PI)) * 5 + 5.25) % 1;
    return r < 0.38 + 0.6 * (1 - 2 * Math.abs(phase - 0.5));
  },
  (x, y) =>
    (Math.abs(x) < 0.24 && Math.abs(y) < 0.85) || (Math.abs(y) < 0.24 && Math.abs(x) < 0.85),
  (x, y) => (x - 0.5) ** 2 + y * y < 0.16 || (x + 0.5) ** 2 + y * y < 0.16,
  (x, y) => x * x + y * y < 0.81 && (x - 0.4) ** 2 + y * y > 0.5,
  (x, y) =>
    (Math.abs(y) < 0.17 && x > -0.85 && x < 0.15) ||
    (x >= 0.15 && x < 0.9 && Math.abs(y) < (0.9 - x) * 0.85),
  (x, y) => Math.abs(x) < 0.8 && (Math.abs(y - 0.36) < 0.17 || Math.abs(y + 0.36) < 0.17),
];

const SIZE = 32;
const SUPERSAMPLE = 3;

function luma(rgb: number[]): number {
  return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
}

function randomColor(rng: Rng): number[] {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

/** A background: two colours mixed by a gradient, stripes, checks or smooth waves. */
function drawBackground(rng: Rng, out: Float32Array) {
  const a = randomColor(rng);
  const b = randomColor(rng);
  const kind = rng.int(4);
  const angle = rng.uniform(0, Math.PI);
  const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
  const frequency = rng.uniform(0.15, 0.6);
  const phase = rng.uniform(0, 2 * Math.PI);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const u = x * ca + y * sa;
      let t: number;
      if (kind === 0) t = u / (SIZE * 2.5) + 0.3;
      else if (kind === 1) t = Math.sin(u * frequency + phase) > 0 ? 0.35 : 0.65;
      else if (kind === 2) {
        const cell = Math.max(3, Math.round(2 / frequency));
        t = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? 0.35 : 0.65;
      } else {
        t = 0.5 + 0.15 * Math.sin(u * frequency + phase) +
          0.15 * Math.sin((x * sa - y * ca) * frequency * 0.7);
      }
      for (let c = 0; c < 3; c++) out[(y * SIZE + x) * 3 + c] = a[c] * (1 - t) + b[c] * t;
    }
  }
}

function drawSample(rng: Rng, label: number, out: Uint8Array, offset: number) {
  const canvas = new Float32Array(SIZE * SIZE * 3);
  drawBackground(rng, canvas);
  let mean = 0;
  for (let i = 0; i < canvas.length; i += 3) {
    mean += luma([canvas[i], canvas[i + 1], canvas[i + 2]]);
  }
  mean /= SIZE * SIZE;
  // A colour that stands out from the background's mean brightness.
  let color = randomColor(rng);
  for (let tries = 0; tries < 20 && Math.abs(luma(color) - mean) < 80; tries++) {
    color = randomColor(rng);
  }
  const radius = rng.uniform(8.5, 13);
  const cx = rng.uniform(radius * 0.75, SIZE - radius * 0.75);
  const cy = rng.uniform(radius * 0.75, SIZE - radius * 0.75);
  const theta = rng.uniform(0, 2 * Math.PI);
  const [cos, sin] = [Math.cos(theta), Math.sin(theta)];
  const inside = SHAPES[label];
  const noise = rng.uniform(3, 10);
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const dx = (px + (sx + 0.5) / SUPERSAMPLE - cx) / radius;
          const dy = (cy - py - (sy + 0.5) / SUPERSAMPLE) / radius;
          if (inside(dx * cos + dy * sin, -dx * sin + dy * cos)) hits++;
        }
      }
      const coverage = hits / (SUPERSAMPLE * SUPERSAMPLE);
      const at = (py * SIZE + px) * 3;
      for (let c = 0; c < 3; c++) {
        const value = canvas[at + c] * (1 - coverage) + color[c] * coverage + rng.normal() * noise;
        out[offset + at + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
}

/** Options for {@linkcode shapes}. */
export interface ShapesOptions {
  /** The training split or the test split. Default: true. */
  train?: boolean;
  /** Samples in the split. Default: 10,000 for train, 2,000 for test. */
  size?: number;
  /** Generator seed; train and test use different streams of it. Default: 0. */
  seed?: number;
}

/**
 * The embedded shapes dataset (10 classes, 32×32×3), balanced, generated in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "./shapes.ts";
 * const test = shapes({ train: false, size: 20 });
 * assert.equal(test.length, 20);
 * assert.equal(test.classes.length, 10);
 * assert.deepEqual(test.shape, [32, 32, 3]);
 * ```
 */
export function shapes(options: ShapesOptions = {}): InMemoryDataset {
  const train = options.train ?? true;
  const size = options.size ?? (train ? 10_000 : 2_000);
  const seed = options.seed ?? 0;
  const images = new Uint8Array(size * SIZE * SIZE * 3);
  const labels = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const label = i % SHAPE_CLASSES.length;
    labels[i] = label;
    drawSample(new Rng(seed, train ? 1 : 2, i), label, images, i * SIZE * SIZE * 3);
  }
  return new InMemoryDataset({ images, labels, shape: [SIZE, SIZE, 3], classes: SHAPE_CLASSES });
}
