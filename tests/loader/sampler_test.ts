import assert from "node:assert/strict";
import {
  classBalancedSampler,
  classCounts,
  compose,
  DataLoader,
  randomCrop,
  randomHorizontalFlip,
  SamplerError,
  shapes,
  Subset,
  WeightedRandomSampler,
} from "../../mod.ts";
import { pythonImports, runPython } from "../pretrained/_python.ts";

// Chi-square critical values at p = 0.001 by degrees of freedom (any table; scipy's chi2.isf).
const CRITICAL_001: Record<number, number> = { 3: 16.266, 4: 18.467, 11: 31.264 };

function chiSquare(observed: number[], expected: number[]): number {
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    if (expected[i] > 0) stat += (observed[i] - expected[i]) ** 2 / expected[i];
    else assert.equal(observed[i], 0, `cell ${i} has probability 0 but was drawn`);
  }
  return stat;
}

const WEIGHTS = [0.5, 2, 0, 1, 4.5];

Deno.test("with replacement: 100k draws match torch.multinomial's distribution (chi-square)", () => {
  const sampler = new WeightedRandomSampler(WEIGHTS, { numSamples: 100_000, seed: 7 });
  const counts = classCounts(sampler.indices(0), WEIGHTS.length);
  const total = WEIGHTS.reduce((a, b) => a + b, 0);
  const stat = chiSquare(counts, WEIGHTS.map((w) => (w / total) * 100_000));
  assert.ok(stat < CRITICAL_001[3], `chi-square ${stat.toFixed(2)} (df 3) at p < 0.001`);
});

Deno.test("without replacement: first and ordered-pair draws match the exact sequential law", () => {
  // P(first = i) = w_i / W; P(first = i, second = j) = w_i / W · w_j / (W − w_i).
  const weights = [1, 2, 3, 4];
  const W = 10;
  const draws = 40_000;
  const sampler = new WeightedRandomSampler(weights, {
    numSamples: 2,
    replacement: false,
    seed: 3,
  });
  const first = [0, 0, 0, 0];
  const pairs = new Array<number>(16).fill(0);
  for (let epoch = 0; epoch < draws; epoch++) {
    const [i, j] = sampler.indices(epoch);
    assert.notEqual(i, j);
    first[i]++;
    pairs[i * 4 + j]++;
  }
  const firstStat = chiSquare(first, weights.map((w) => (w / W) * draws));
  assert.ok(firstStat < CRITICAL_001[3], `first draw chi-square ${firstStat.toFixed(2)}`);
  const expected = pairs.map((_, cell) => {
    const [i, j] = [Math.floor(cell / 4), cell % 4];
    return i === j ? 0 : (weights[i] / W) * (weights[j] / (W - weights[i])) * draws;
  });
  const pairStat = chiSquare(pairs, expected);
  assert.ok(pairStat < CRITICAL_001[11], `pair chi-square ${pairStat.toFixed(2)} (df 11)`);
});

Deno.test("without replacement: every index once, zero weights never, too many refused", () => {
  const all = new WeightedRandomSampler([1, 5, 2, 9], { replacement: false, seed: 1 });
  assert.deepEqual([...all.indices(4)].sort(), [0, 1, 2, 3]);
  const some = new WeightedRandomSampler([0, 1, 0, 1, 1], { numSamples: 3, replacement: false });
  assert.deepEqual([...some.indices(0)].sort(), [1, 3, 4]);
  assert.throws(
    () => new WeightedRandomSampler([0, 1, 1], { numSamples: 3, replacement: false }),
    SamplerError,
  );
  assert.throws(() => new WeightedRandomSampler([1, -1]), /non-negative/);
  assert.throws(() => new WeightedRandomSampler([0, 0]), /positive entry/);
});

Deno.test({
  name: "with replacement: our counts and torch.multinomial's are one distribution (homogeneity)",
  ignore: !(await pythonImports("torch")), // Debian's python3 with torch is missing here
  fn: async () => {
    const n = 100_000;
    const script = "import torch,json;torch.manual_seed(0);" +
      `w=torch.tensor(${JSON.stringify(WEIGHTS)},dtype=torch.double);` +
      `s=torch.multinomial(w,${n},replacement=True);` +
      `print(json.dumps(torch.bincount(s,minlength=${WEIGHTS.length}).tolist()))`;
    const theirs: number[] = JSON.parse(await runPython(["-c", script]));
    const ours = classCounts(
      new WeightedRandomSampler(WEIGHTS, { numSamples: n, seed: 11 }).indices(0),
      WEIGHTS.length,
    );
    // Two-sample chi-square on a 2 × k table (equal totals), zero columns dropped.
    let stat = 0;
    for (let c = 0; c < WEIGHTS.length; c++) {
      const column = ours[c] + theirs[c];
      if (column === 0) continue;
      for (const observed of [ours[c], theirs[c]]) {
        stat += (observed - column / 2) ** 2 / (column / 2);
      }
    }
    assert.ok(stat < CRITICAL_001[3], `homogeneity chi-square ${stat.toFixed(2)} (df 3)`);
  },
});

Deno.test("classBalancedSampler: oversampling evens the classes, undersampling takes the rarest", () => {
  const labels = [...new Array(95).fill(0), ...new Array(5).fill(1)];
  const over = classBalancedSampler(labels, { seed: 2 });
  let rare = 0;
  for (let epoch = 0; epoch < 20; epoch++) {
    rare += over.indices(epoch).filter((i) => labels[i] === 1).length;
  }
  assert.ok(Math.abs(rare / (20 * 100) - 0.5) < 0.05, `rare share ${rare / 2000}`);
  const under = classBalancedSampler(labels, { mode: "undersample", seed: 2 });
  assert.equal(under.length, 10);
  const epoch0 = under.indices(0);
  assert.deepEqual(classCounts(epoch0.map((i) => labels[i])), [5, 5]);
  assert.equal(new Set(epoch0).size, 10);
  assert.notDeepEqual(under.indices(1), epoch0); // a new draw every epoch
});

const imbalanced = (() => {
  const full = shapes({ size: 60 });
  const keep: number[] = [];
  for (let i = 0; i < full.length; i++) if (full.labelOf(i) !== 0 || i % 5 === 0) keep.push(i);
  return new Subset(full, keep);
})();

async function indexOrder(loader: DataLoader, epoch: number, skip = 0): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of loader.batches(epoch, { skip })) out.push([...batch.indices]);
  return out;
}

Deno.test("a sampled loader gives the same batches with 0 and 2 workers, and resumes exactly", async () => {
  const labels = Array.from({ length: imbalanced.length }, (_, i) => imbalanced.labelOf(i));
  const make = (numWorkers: number) =>
    new DataLoader(imbalanced, {
      batchSize: 8,
      seed: 4,
      numWorkers,
      sampler: classBalancedSampler(labels, { seed: 4 }),
    });
  const serial = make(0);
  const parallel = make(2);
  try {
    for (const epoch of [0, 1]) {
      const a = await indexOrder(serial, epoch);
      assert.deepEqual(await indexOrder(parallel, epoch), a);
      assert.deepEqual(a, serial.plan(epoch));
      // A fresh loader (a resumed run) skipping 3 batches sees exactly the remaining ones.
      const resumed = make(2);
      try {
        assert.deepEqual(await indexOrder(resumed, epoch, 3), a.slice(3));
      } finally {
        resumed.close();
      }
    }
    assert.notDeepEqual(serial.plan(0), serial.plan(1));
    assert.equal(serial.length, Math.ceil(imbalanced.length / 8));
    assert.throws(
      () => new DataLoader(imbalanced, { shuffle: true, sampler: classBalancedSampler(labels) }),
      /exclusive/,
    );
  } finally {
    serial.close();
    parallel.close();
  }
});

Deno.test("a sample drawn again in the epoch gets augmentation of its own, the same for any workers and on resume", async () => {
  const transform = compose([randomCrop(32, { padding: 6 }), randomHorizontalFlip()]);
  const make = (numWorkers: number) =>
    new DataLoader(imbalanced, {
      batchSize: 6,
      seed: 9,
      numWorkers,
      transform,
      sampler: new WeightedRandomSampler([1, ...new Array(imbalanced.length - 1).fill(0)], {
        numSamples: 24,
      }),
    });
  const pixels = async (loader: DataLoader, skip = 0) => {
    const out: Uint8Array[] = [];
    for await (const batch of loader.batches(2, { skip })) {
      out.push(new Uint8Array(batch.images.buffer.slice(0)));
    }
    loader.close();
    return out;
  };
  const serial = await pixels(make(0));
  assert.deepEqual(await pixels(make(2)), serial);
  assert.deepEqual(await pixels(make(0), 2), serial.slice(2));
  // Index 0, drawn 24 times: the crops differ between draws.
  const size = 32 * 32 * 3;
  const views = new Set<string>();
  for (const batch of serial) {
    for (let i = 0; i < batch.length / size; i++) {
      views.add(batch.subarray(i * size, (i + 1) * size).join(","));
    }
  }
  assert.ok(views.size > 10, `${views.size} distinct views of 24 draws`);
});
