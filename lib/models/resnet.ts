/**
 * `resnet18`: torchvision's ResNet-18 (BasicBlock ×[2, 2, 2, 2]). Inputs of 64 px or less get
 * the CIFAR stem (3×3 conv, stride 1, no max-pool); larger ones torchvision's ImageNet stem
 * (7×7 conv, stride 2, 3×3 max-pool).
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { batchNorm, conv, maxPool, relu, type Tensor } from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

function basicBlock(x: Tensor, filters: number, strides: number): Tensor {
  const inChannels = x.shape[3];
  let out = relu(batchNorm(conv(x, filters, 3, { strides, padding: 1 })));
  out = batchNorm(conv(out, filters, 3, { padding: 1 }));
  const shortcut = strides !== 1 || inChannels !== filters
    ? batchNorm(conv(x, filters, 1, { strides }))
    : x;
  return relu(tfl.layers.add().apply([out, shortcut]) as Tensor);
}

/**
 * Builds ResNet-18 for `inputShape` and `numClasses` logits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { resnet18 } from "./resnet.ts";
 * await useBackend("wasm");
 * const model = resnet18({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function resnet18({ inputShape, numClasses }: ModelOptions): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape });
  const small = Math.max(inputShape[0], inputShape[1]) <= 64;
  let x = small
    ? relu(batchNorm(conv(input, 64, 3, { padding: 1 })))
    : maxPool(relu(batchNorm(conv(input, 64, 7, { strides: 2, padding: 3 }))), 3, 2, 1);
  for (const [stage, filters] of [64, 128, 256, 512].entries()) {
    x = basicBlock(x, filters, stage === 0 ? 1 : 2);
    x = basicBlock(x, filters, 1);
  }
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as Tensor;
  const logits = tfl.layers.dense({ units: numClasses }).apply(x) as Tensor;
  return tfl.model({ inputs: input, outputs: logits, name: "resnet18" });
}

registerModel(
  "resnet18",
  "ResNet-18 (CIFAR stem for inputs ≤ 64 px, ImageNet stem otherwise)",
  resnet18,
);
