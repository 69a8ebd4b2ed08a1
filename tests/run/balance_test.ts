import assert from "node:assert/strict";
import { resolveTrainConfig, shapes, Subset } from "../../mod.ts";
import { runBalance } from "../../lib/run/_balance.ts";

const full = shapes({ size: 100 });
// Class 0 keeps 2 of its 10 samples: 2 of 92.
const train = new Subset(
  full,
  Array.from({ length: 100 }, (_, i) => i).filter((i) => full.labelOf(i) !== 0 || i < 20),
);
const data = { train, validation: shapes({ train: false, size: 20 }), classes: full.classes };

Deno.test("--balance weights: inverse-frequency class weights, printed", () => {
  const lines: string[] = [];
  const balance = runBalance(
    resolveTrainConfig({ balance: "weights" }),
    data,
    (l) => lines.push(l),
  );
  assert.equal(balance.sampler, undefined);
  assert.equal(balance.classWeights!.length, 10);
  assert.ok(Math.abs(balance.classWeights![0] - 92 / (10 * 2)) < 1e-12);
  assert.ok(Math.abs(balance.classWeights![1] - 92 / (10 * 10)) < 1e-12);
  assert.match(lines[0], /^balance: class-weighted loss, circle 4\.600, ring 0\.920/);
  assert.deepEqual(balance.counts.train, [2, ...new Array(9).fill(10)]);
  assert.deepEqual(balance.counts.validation, new Array(10).fill(2));
});

Deno.test("--balance oversample/undersample: a seeded sampler; none changes nothing", () => {
  const quiet = () => {};
  const over = runBalance(resolveTrainConfig({ balance: "oversample", seed: 3 }), data, quiet);
  assert.equal(over.sampler!.length, 92);
  assert.deepEqual(over.sampler!.indices(1), over.sampler!.indices(1));
  const under = runBalance(resolveTrainConfig({ balance: "undersample" }), data, quiet);
  assert.equal(under.sampler!.length, 20);
  const none = runBalance(resolveTrainConfig({}), data, quiet);
  assert.equal(none.sampler, undefined);
  assert.equal(none.classWeights, undefined);
  assert.throws(() => resolveTrainConfig({ balance: "smote" }), /balance must be one of/);
});
