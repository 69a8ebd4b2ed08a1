// Inference: one 32×32 image through compact-cnn (the default model), preprocessing included,
// and a batch of 32 preprocessed images. Run: deno bench --allow-read=. bench/infer_bench.ts
import * as tf from "@tensorflow/tfjs-core";
import { CIFAR_MEAN, CIFAR_STD, createModel, normalize, Rng, useBackend } from "../mod.ts";

await useBackend("wasm");
const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 0 });
const preprocess = normalize({ mean: CIFAR_MEAN, std: CIFAR_STD });
const image = {
  width: 32,
  height: 32,
  channels: 3 as const,
  data: new Uint8Array(32 * 32 * 3).map((_, i) => (i * 31) % 256),
};
const batch = tf.randomNormal([32, 32, 32, 3], 0, 1, "float32", 1);

Deno.bench({
  name: "compact-cnn, one image with preprocessing",
  group: "infer",
  async fn() {
    await useBackend("wasm");
    const pixels = preprocess.apply(image, new Rng(0)).data as Float32Array;
    const probabilities = tf.tidy(() =>
      tf.softmax(model.predict(tf.tensor4d(pixels, [1, 32, 32, 3])) as tf.Tensor)
    );
    await probabilities.data();
    probabilities.dispose();
  },
});

Deno.bench({
  name: "compact-cnn, batch of 32 (preprocessed)",
  group: "infer",
  async fn() {
    await useBackend("wasm");
    const out = model.predict(batch) as tf.Tensor;
    await out.data();
    out.dispose();
  },
});
