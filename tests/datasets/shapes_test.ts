import assert from "node:assert/strict";
import { SHAPE_CLASSES, shapes, splitDataset } from "../../mod.ts";

Deno.test("the shapes dataset is deterministic, balanced, and differs by seed and split", () => {
  const a = shapes({ size: 50 });
  const b = shapes({ size: 50 });
  assert.deepEqual(a.images, b.images);
  assert.notDeepEqual(shapes({ size: 50, seed: 1 }).images, a.images);
  assert.notDeepEqual(shapes({ size: 50, train: false }).images, a.images);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < a.length; i++) counts[a.labelOf(i)]++;
  assert.deepEqual(counts, new Array(10).fill(5));
  assert.equal(a.classes, SHAPE_CLASSES);
  // Not a blank canvas: every image has real contrast.
  for (let i = 0; i < a.length; i++) {
    const { data } = a.view(i);
    assert.ok(Math.max(...data) - Math.min(...data) > 60);
  }
});

Deno.test("splits are seeded, disjoint, complete, and stratified on request", () => {
  const dataset = shapes({ size: 200 });
  const first = splitDataset(dataset, { validationFraction: 0.25, seed: 3 });
  const again = splitDataset(dataset, { validationFraction: 0.25, seed: 3 });
  const other = splitDataset(dataset, { validationFraction: 0.25, seed: 4 });
  assert.deepEqual(first.validation.indices, again.validation.indices);
  assert.notDeepEqual(first.validation.indices, other.validation.indices);
  assert.equal(first.validation.length, 50);
  const all = [...first.train.indices, ...first.validation.indices].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => i));

  const stratified = splitDataset(dataset, { validationFraction: 0.1, stratify: true });
  const counts = new Array(10).fill(0);
  for (let i = 0; i < stratified.validation.length; i++) counts[stratified.validation.labelOf(i)]++;
  assert.deepEqual(counts, new Array(10).fill(2));
  assert.throws(() => splitDataset(dataset, { validationFraction: 1 }), /must be in \(0, 1\)/);
});
