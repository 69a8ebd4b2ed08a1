/**
 * The seeds' small CNNs: `cifar-cnn` (seed 003) and `small-cnn` (seed 004).
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { layerSeed, torchInit } from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

/**
 * `cifar-cnn`: conv 32 (3×3, pad 1) → ReLU → max-pool 2, conv 64 (3×3, pad 1) → ReLU →
 * max-pool 2, fc 512 → ReLU, fc classes; PyTorch's default initialisation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { cifarCnn } from "./cnn.ts";
 * await useBackend("wasm");
 * const model = cifarCnn({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function cifarCnn({ inputShape, numClasses, seed }: ModelOptions): tfl.LayersModel {
  const flat = 64 * Math.floor(inputShape[0] / 4) * Math.floor(inputShape[1] / 4);
  return tfl.sequential({
    name: "cifar_cnn",
    layers: [
      tfl.layers.conv2d({
        inputShape,
        filters: 32,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        ...torchInit(9 * inputShape[2], layerSeed(seed, 1)),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 64,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        ...torchInit(9 * 32, layerSeed(seed, 2)),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 512, activation: "relu", ...torchInit(flat, layerSeed(seed, 3)) }),
      tfl.layers.dense({ units: numClasses, ...torchInit(512, layerSeed(seed, 4)) }),
    ],
  });
}

/**
 * `small-cnn`: conv 32 and conv 64 (3×3, `same` padding, so 28×28 input flattens to 64·7·7),
 * each followed by max-pool 2, dropout 0.25, fc 128 → ReLU, dropout 0.5, fc classes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { smallCnn } from "./cnn.ts";
 * await useBackend("wasm");
 * const model = smallCnn({ inputShape: [28, 28, 1], numClasses: 10 });
 * assert.equal((model.layers[5].outputShape as number[])[1], 64 * 7 * 7); // flatten
 * model.dispose();
 * ```
 */
export function smallCnn({ inputShape, numClasses }: ModelOptions): tfl.LayersModel {
  return tfl.sequential({
    name: "small_cnn",
    layers: [
      tfl.layers.conv2d({
        inputShape,
        filters: 32,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: "same", activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.dropout({ rate: 0.25 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: "relu" }),
      tfl.layers.dropout({ rate: 0.5 }),
      tfl.layers.dense({ units: numClasses }),
    ],
  });
}

/**
 * `compact-cnn`: three blocks of 3×3 conv (16, 32, 64 filters, `same`) → batch norm → ReLU →
 * max-pool 2, then global average pooling and fc classes. About 24k parameters: the default for
 * the embedded shapes set, fast enough to train in a minute or two on a CPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { compactCnn } from "./cnn.ts";
 * await useBackend("wasm");
 * const model = compactCnn({ inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function compactCnn({ inputShape, numClasses, seed }: ModelOptions): tfl.LayersModel {
  const layers: tfl.layers.Layer[] = [];
  let channels = inputShape[2];
  [16, 32, 64].forEach((filters, i) => {
    layers.push(
      tfl.layers.conv2d({
        ...(i === 0 ? { inputShape } : {}),
        filters,
        kernelSize: 3,
        padding: "same",
        useBias: false,
        ...torchInit(9 * channels, layerSeed(seed, i + 1)),
      }),
      tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }),
      tfl.layers.reLU(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
    );
    channels = filters;
  });
  layers.push(
    tfl.layers.globalAveragePooling2d({}),
    tfl.layers.dense({ units: numClasses, ...torchInit(channels, layerSeed(seed, 4)) }),
  );
  return tfl.sequential({ name: "compact_cnn", layers });
}

registerModel("cifar-cnn", "seed 003's CNN: conv 32/64 (pad 1), pools, fc 512", cifarCnn);
registerModel("small-cnn", "seed 004's CNN: conv 32/64 (same), pools, dropout, fc 128", smallCnn);
registerModel("compact-cnn", "conv 16/32/64 + batch norm, global pooling (24k params)", compactCnn);
