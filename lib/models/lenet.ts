/**
 * `lenet`: the seeds' LeNet-style Net — conv 1→10 k5, max-pool 2, conv 10→20 k5, max-pool 2,
 * fc 50, fc classes — with ReLUs, outputting logits.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { layerSeed, torchInit } from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

/** Features after the two conv/pool stages (320 for 28×28). */
function flatSize([height, width]: [number, number, number]): number {
  const side = (n: number) => Math.floor((Math.floor((n - 4) / 2) - 4) / 2);
  return side(height) * side(width) * 20;
}

/**
 * Builds the LeNet-style network for `inputShape` (28×28×1 for MNIST).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend/mod.ts";
 * import assert from "node:assert/strict";
 * import { lenet } from "./lenet.ts";
 * await useBackend("wasm");
 * const model = lenet({ inputShape: [28, 28, 1], numClasses: 10 });
 * assert.equal(model.countParams(), 21840);
 * model.dispose();
 * ```
 */
export function lenet({ inputShape, numClasses, seed }: ModelOptions): tfl.LayersModel {
  return tfl.sequential({
    name: "lenet",
    layers: [
      tfl.layers.conv2d({
        inputShape,
        filters: 10,
        kernelSize: 5,
        activation: "relu",
        ...torchInit(25 * inputShape[2], layerSeed(seed, 1)),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 20,
        kernelSize: 5,
        activation: "relu",
        ...torchInit(25 * 10, layerSeed(seed, 2)),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({
        units: 50,
        activation: "relu",
        ...torchInit(flatSize(inputShape), layerSeed(seed, 3)),
      }),
      tfl.layers.dense({ units: numClasses, ...torchInit(50, layerSeed(seed, 4)) }),
    ],
  });
}

registerModel("lenet", "LeNet-style CNN for 28×28 digits (seed 000's Net)", lenet);
