import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import { LeanAdamOptimizer } from "../../lib/train/_adam.ts";
import { setFusedAdamSimd } from "../../lib/train/_fused_adam.ts";

// wasm runs the update as our SIMD module, and without it (an engine without wasm SIMD) as a
// TypeScript loop: both must be tfjs' Adam, bit for bit.
for (const [backend, simd] of [["cpu", true], ["wasm", true], ["wasm", false]] as const) {
  const path = backend === "cpu" ? "" : simd ? " (SIMD)" : " (TypeScript loop)";
  Deno.test(`${backend}${path}: the lean Adam's updates and saved state are tfjs' Adam's, bit for bit`, async () => {
    await useBackend(backend);
    const previous = setFusedAdamSimd(simd);
    const shapes = [[3, 4], [5], [2, 2, 3], [3, 3, 16, 40]]; // the last: many values per pass
    const tag = `${backend}${simd ? "" : "_loop"}`;
    const make = (prefix: string) =>
      shapes.map((shape, i) =>
        tf.variable(tf.randomNormal(shape, 0, 1, "float32", i + 1), true, `${prefix}_${i}`)
      );
    const [ours, theirs] = [make(`lean_${tag}`), make(`tfjs_${tag}`)];
    const lean = new LeanAdamOptimizer(0.01, 0.9, 0.999, 1e-7);
    const reference = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (let step = 0; step < 4; step++) {
      const grads = shapes.map((shape, i) =>
        tf.randomNormal(shape, 0, 1, "float32", 100 * step + i)
      );
      lean.applyGradients(Object.fromEntries(ours.map((v, i) => [v.name, grads[i]])));
      reference.applyGradients(
        Object.fromEntries(theirs.map((v, i) => [v.name, grads[i]])) as unknown as Parameters<
          typeof reference.applyGradients
        >[0],
      );
      tf.dispose(grads);
    }
    ours.forEach((v, i) => assert.deepEqual(v.dataSync(), theirs[i].dataSync(), `variable ${i}`));
    const [a, b] = [await lean.getWeights(), await reference.getWeights()];
    assert.deepEqual(
      a.map((w) => w.name.replace("lean", "x")),
      b.map((w) => w.name.replace("tfjs", "x")),
    );
    a.forEach((w, i) => assert.deepEqual(w.tensor.dataSync(), b[i].tensor.dataSync(), w.name));
    // A checkpoint's state restores into a fresh one, which then steps like the original.
    const restored = new LeanAdamOptimizer(0.01, 0.9, 0.999, 1e-7);
    await restored.setWeights(await lean.getWeights());
    const copy = ours.map((v, i) => tf.variable(v.clone(), true, `copy_${tag}_${i}`));
    const grads = shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, "float32", 900 + i));
    lean.applyGradients(Object.fromEntries(ours.map((v, i) => [v.name, grads[i]])));
    restored.applyGradients(Object.fromEntries(copy.map((v, i) => [v.name, grads[i]])));
    copy.forEach((v, i) => assert.deepEqual(v.dataSync(), ours[i].dataSync(), `restored ${i}`));
    tf.dispose([...grads, ...ours, ...theirs, ...copy]);
    lean.dispose();
    reference.dispose();
    restored.dispose();
    setFusedAdamSimd(previous);
  });
}

Deno.test("wasm: the lean Adam updates every variable in one pass, not a dozen kernels each", async () => {
  await useBackend("wasm");
  const variables = [[64, 10], [10], [3, 3, 8, 8]].map((shape, i) =>
    tf.variable(tf.randomNormal(shape, 0, 1, "float32", i), true, `fused_${i}`)
  );
  const grads = variables.map((v, i) => tf.randomNormal(v.shape, 0, 1, "float32", 50 + i));
  const adam = new LeanAdamOptimizer(0.01, 0.9, 0.999, 1e-7);
  const named = Object.fromEntries(variables.map((v, i) => [v.name, grads[i]]));
  adam.applyGradients(named); // creates the moments
  const before = tf.memory().numTensors;
  const { kernels } = await tf.profile(() => adam.applyGradients(named));
  // Four scalar kernels (1 − β₁ᵗ, 1 − β₂ᵗ and advancing β₁ᵗ, β₂ᵗ), none per variable.
  assert.ok(kernels.length <= 4, `${kernels.length} kernels: ${kernels.map((k) => k.name)}`);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([...variables, ...grads]);
  adam.dispose();
});

const gpu = await navigator.gpu?.requestAdapter().catch(() => null);

/** WebGPU compute dispatches made while `run` runs. */
function countDispatches(run: () => void): number {
  const encoder = GPUComputePassEncoder.prototype;
  const original = encoder.dispatchWorkgroups;
  let count = 0;
  encoder.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args) {
    count++;
    return original.apply(this, args);
  };
  try {
    run();
  } finally {
    encoder.dispatchWorkgroups = original;
  }
  return count;
}

Deno.test({
  name: "webgpu: the lean Adam's one-dispatch update is tfjs' Adam's (within float32 rounding)",
  ignore: gpu == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const shapes = [[3, 4], [5], [3, 3, 16, 40]];
    const make = (prefix: string) =>
      shapes.map((shape, i) =>
        tf.variable(tf.randomNormal(shape, 0, 1, "float32", i + 1), true, `${prefix}_${i}`)
      );
    const [ours, theirs] = [make("gpu_lean"), make("gpu_tfjs")];
    const lean = new LeanAdamOptimizer(0.01, 0.9, 0.999, 1e-7);
    const reference = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    let kernels = 0;
    let dispatches = 0;
    for (let step = 0; step < 4; step++) {
      const grads = shapes.map((shape, i) =>
        tf.randomNormal(shape, 0, 1, "float32", 100 * step + i)
      );
      const named = Object.fromEntries(ours.map((v, i) => [v.name, grads[i]]));
      if (step < 2) lean.applyGradients(named);
      else if (step === 2) dispatches = countDispatches(() => lean.applyGradients(named));
      else kernels = (await tf.profile(() => lean.applyGradients(named))).kernels.length;
      reference.applyGradients(
        Object.fromEntries(theirs.map((v, i) => [v.name, grads[i]])) as unknown as Parameters<
          typeof reference.applyGradients
        >[0],
      );
      tf.dispose(grads);
    }
    // Four scalar kernels, then one dispatch per variable (our program, not a registered
    // kernel: the profile counts the scalar ones only).
    assert.ok(kernels <= 4, `${kernels} kernels besides ours`);
    assert.ok(dispatches <= 4 + shapes.length, `${dispatches} dispatches for ${shapes.length}`);
    for (const [i, v] of ours.entries()) {
      const [a, b] = [await v.data(), await theirs[i].data()];
      let worst = 0;
      for (let k = 0; k < a.length; k++) {
        worst = Math.max(worst, Math.abs(a[k] - b[k]) / (1e-6 + Math.abs(b[k])));
      }
      assert.ok(worst < 1e-5, `variable ${i}: relative error ${worst}`);
    }
    tf.dispose([...ours, ...theirs]);
    lean.dispose();
    reference.dispose();
  },
});
