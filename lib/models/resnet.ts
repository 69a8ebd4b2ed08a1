/**
 * `resnet18` and `resnet50`: torchvision's ResNet-18 (BasicBlock ×[2, 2, 2, 2]) and ResNet-50
 * (Bottleneck ×[3, 4, 6, 3], stride on the 3×3 conv: torchvision's "v1.5"). With the default stem
 * "auto", inputs of 64 px or less get the CIFAR stem (3×3 conv, stride 1, no max-pool); larger
 * ones torchvision's ImageNet stem (7×7 conv, stride 2, 3×3 max-pool).
 *
 * Layers with weights are named by their torchvision module paths (`conv1`, `bn1`,
 * `layer2.0.downsample.0`, `fc`), so a torchvision state_dict maps onto the model by name.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import {
  add,
  batchNorm,
  cifarStem,
  conv,
  dense,
  globalAveragePool,
  maxPool,
  relu,
  type Tensor,
} from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

function basicBlock(x: Tensor, filters: number, strides: number, name: string): Tensor {
  const inChannels = x.shape[3];
  let out = relu(batchNorm(
    conv(x, filters, 3, { strides, padding: 1, name: `${name}.conv1` }),
    { name: `${name}.bn1` },
  ));
  out = batchNorm(conv(out, filters, 3, { padding: 1, name: `${name}.conv2` }), {
    name: `${name}.bn2`,
  });
  const shortcut = strides !== 1 || inChannels !== filters
    ? downsample(x, filters, strides, name)
    : x;
  return relu(add(out, shortcut));
}

function bottleneck(x: Tensor, width: number, strides: number, name: string): Tensor {
  const inChannels = x.shape[3];
  const filters = width * 4;
  let out = relu(batchNorm(conv(x, width, 1, { name: `${name}.conv1` }), { name: `${name}.bn1` }));
  out = relu(batchNorm(
    conv(out, width, 3, { strides, padding: 1, name: `${name}.conv2` }),
    { name: `${name}.bn2` },
  ));
  out = batchNorm(conv(out, filters, 1, { name: `${name}.conv3` }), { name: `${name}.bn3` });
  const shortcut = strides !== 1 || inChannels !== filters
    ? downsample(x, filters, strides, name)
    : x;
  return relu(add(out, shortcut));
}

function downsample(x: Tensor, filters: number, strides: number, name: string): Tensor {
  return batchNorm(conv(x, filters, 1, { strides, name: `${name}.downsample.0` }), {
    name: `${name}.downsample.1`,
  });
}

function resnet(
  options: ModelOptions,
  name: string,
  block: typeof basicBlock,
  depths: number[],
): tfl.LayersModel {
  const { inputShape, numClasses } = options;
  const input = tfl.input({ shape: inputShape });
  let x = cifarStem(options.stem, inputShape)
    ? relu(batchNorm(conv(input, 64, 3, { padding: 1, name: "conv1" }), { name: "bn1" }))
    : maxPool(
      relu(batchNorm(conv(input, 64, 7, { strides: 2, padding: 3, name: "conv1" }), {
        name: "bn1",
      })),
      3,
      2,
      1,
    );
  for (const [stage, width] of [64, 128, 256, 512].entries()) {
    for (let i = 0; i < depths[stage]; i++) {
      x = block(x, width, stage > 0 && i === 0 ? 2 : 1, `layer${stage + 1}.${i}`);
    }
  }
  const logits = dense(globalAveragePool(x), numClasses, { name: "fc" });
  return tfl.model({ inputs: input, outputs: logits, name });
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
 * assert.equal(model.getLayer("layer2.0.downsample.0").getClassName(), "Conv2D");
 * model.dispose();
 * ```
 */
export function resnet18(options: ModelOptions): tfl.LayersModel {
  return resnet(options, "resnet18", basicBlock, [2, 2, 2, 2]);
}

/**
 * Builds ResNet-50 for `inputShape` and `numClasses` logits: 25,557,032 trainable parameters at
 * 1000 classes with the ImageNet stem, as torchvision's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { resnet50 } from "./resnet.ts";
 * await useBackend("wasm");
 * const model = resnet50({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * assert.equal(model.getLayer("layer4.2.bn3").getClassName(), "BatchNormalization");
 * model.dispose();
 * ```
 */
export function resnet50(options: ModelOptions): tfl.LayersModel {
  return resnet(options, "resnet50", bottleneck, [3, 4, 6, 3]);
}

registerModel(
  "resnet18",
  "ResNet-18 (CIFAR stem for inputs ≤ 64 px, ImageNet stem otherwise)",
  resnet18,
);
registerModel(
  "resnet50",
  "ResNet-50, torchvision's v1.5 bottlenecks (CIFAR stem for inputs ≤ 64 px)",
  resnet50,
);
