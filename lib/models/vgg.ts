/**
 * `vgg11-bn`: torchvision's VGG-11 with batch norm. At 224 px the classifier is torchvision's
 * (512·7·7 → 4096 → 4096 → classes, with dropout); for inputs of 64 px or less the features end at
 * 1×1 and the classifier is a single linear layer, the usual CIFAR form.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { batchNorm, conv, relu, type Tensor } from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

const VGG11: (number | "M")[] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"];

/**
 * Builds VGG-11-BN for `inputShape` and `numClasses` logits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { vgg11Bn } from "./vgg.ts";
 * await useBackend("wasm");
 * const model = vgg11Bn({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function vgg11Bn({ inputShape, numClasses }: ModelOptions): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape });
  let x: Tensor = input;
  for (const layer of VGG11) {
    x = layer === "M"
      ? tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as Tensor
      : relu(batchNorm(conv(x, layer, 3, { padding: 1, bias: true })));
  }
  x = tfl.layers.flatten().apply(x) as Tensor;
  if (Math.max(inputShape[0], inputShape[1]) > 64) {
    for (let i = 0; i < 2; i++) {
      x = tfl.layers.dense({ units: 4096, activation: "relu" }).apply(x) as Tensor;
      x = tfl.layers.dropout({ rate: 0.5 }).apply(x) as Tensor;
    }
  }
  const logits = tfl.layers.dense({ units: numClasses }).apply(x) as Tensor;
  return tfl.model({ inputs: input, outputs: logits, name: "vgg11_bn" });
}

registerModel("vgg11-bn", "VGG-11 with batch norm (CIFAR classifier for inputs ≤ 64 px)", vgg11Bn);
