import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createModel, parseTtaMode, ttaLogits, useBackend } from "../../mod.ts";

await useBackend("cpu");
const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 3, seed: 2 });

Deno.test("tta: hflip averages the logits of the image and its mirror", async () => {
  const images = tf.randomUniform([2, 16, 16, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  const mirrored = tf.image.flipLeftRight(images);
  const plain = model.apply(images, { training: false }) as tf.Tensor2D;
  const flipped = model.apply(mirrored, { training: false }) as tf.Tensor2D;
  const expected = await tf.div(tf.add(plain, flipped), 2).data();
  const got = ttaLogits(model, images, "hflip");
  const actual = await got.data();
  expected.forEach((v, i) => assert.ok(Math.abs(v - actual[i]) < 1e-5, `logit ${i}`));
  // A mirror-symmetric image: hflip changes nothing.
  const symmetric = tf.concat([
    tf.slice(images, [0, 0, 0, 0], [2, 16, 8, 3]),
    tf.reverse(tf.slice(images, [0, 0, 0, 0], [2, 16, 8, 3]), 2),
  ], 2) as tf.Tensor4D;
  const one = await (model.apply(symmetric, { training: false }) as tf.Tensor).data();
  const both = await ttaLogits(model, symmetric, "hflip").data();
  one.forEach((v, i) => assert.ok(Math.abs(v - both[i]) < 1e-5));
  const none = await ttaLogits(model, images, "none").data();
  assert.deepEqual([...none], [...await plain.data()]);
  tf.dispose([images, mirrored, plain, flipped, got]);
});

Deno.test("tta: five-crop averages five views, leaks no tensors, and a constant image is unchanged", async () => {
  const constant = tf.fill([1, 16, 16, 3], 0.3) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const logits = ttaLogits(model, constant, "five-crop");
  assert.equal(tf.memory().numTensors, before + 1);
  assert.deepEqual(logits.shape, [1, 3]);
  const plain = await (model.apply(constant, { training: false }) as tf.Tensor).data();
  const crops = await logits.data();
  plain.forEach((v, i) =>
    assert.ok(Math.abs(v - crops[i]) < 1e-4, `logit ${i}: ${v} vs ${crops[i]}`)
  );
  tf.dispose([constant, logits]);
  assert.equal(parseTtaMode("five-crop"), "five-crop");
  assert.throws(() => parseTtaMode("ten"), { name: "TtaModeError" });
});
