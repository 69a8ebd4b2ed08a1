/**
 * `mobilenetv2`: torchvision's MobileNetV2 (inverted residuals with linear bottlenecks), with a
 * width multiplier. With the default stem "auto", inputs of 64 px or less keep stride 1 in the
 * stem and the first strided stage, the usual CIFAR adaptation, so 32×32 images are not reduced
 * to 1×1 (the weights' shapes are the same either way).
 *
 * Layers with weights are named by their torchvision module paths (`features.0.0`,
 * `features.2.conv.1.0`, `classifier.1`), so a torchvision state_dict maps onto the model by name.
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
  depthwise,
  dropout as dropoutLayer,
  globalAveragePool,
  makeDivisible,
  relu6,
  type Tensor,
} from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

/**
 * Options beyond the common ones.
 *
 * @example
 * ```ts
 * import type { MobileNetV2Options } from "./mobilenetv2.ts";
 * const options: MobileNetV2Options = { inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.5 };
 * ```
 */
export interface MobileNetV2Options extends ModelOptions {
  /** Channel width multiplier. Default: 1. */
  widthMultiplier?: number;
  /** Dropout before the classifier. Default: 0.2. */
  dropout?: number;
}

// expansion t, output channels c, repeats n, first stride s
const SETTINGS: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

function invertedResidual(
  x: Tensor,
  out: number,
  stride: number,
  expansion: number,
  name: string,
): Tensor {
  const inChannels = x.shape[3] as number;
  let y = x;
  let i = 0;
  if (expansion !== 1) {
    y = relu6(batchNorm(
      conv(y, Math.round(inChannels * expansion), 1, { name: `${name}.conv.0.0` }),
      { name: `${name}.conv.0.1` },
    ));
    i++;
  }
  y = relu6(batchNorm(depthwise(y, 3, stride, { name: `${name}.conv.${i}.0` }), {
    name: `${name}.conv.${i}.1`,
  }));
  y = batchNorm(conv(y, out, 1, { name: `${name}.conv.${i + 1}` }), {
    name: `${name}.conv.${i + 2}`,
  });
  return stride === 1 && inChannels === out ? add(x, y) : y;
}

/**
 * Builds MobileNetV2 for `inputShape` and `numClasses` logits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { mobilenetV2 } from "./mobilenetv2.ts";
 * await useBackend("wasm");
 * const model = mobilenetV2({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.5 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function mobilenetV2(options: MobileNetV2Options): tfl.LayersModel {
  const { inputShape, numClasses, widthMultiplier = 1, dropout = 0.2 } = options;
  const small = cifarStem(options.stem, inputShape);
  const input = tfl.input({ shape: inputShape });
  let x = relu6(batchNorm(
    conv(input, makeDivisible(32 * widthMultiplier), 3, {
      strides: small ? 1 : 2,
      padding: 1,
      name: "features.0.0",
    }),
    { name: "features.0.1" },
  ));
  let index = 1;
  for (const [stage, [t, c, n, s]] of SETTINGS.entries()) {
    const out = makeDivisible(c * widthMultiplier);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? (small && stage === 1 ? 1 : s) : 1;
      x = invertedResidual(x, out, stride, t, `features.${index++}`);
    }
  }
  x = relu6(batchNorm(
    conv(x, makeDivisible(1280 * Math.max(1, widthMultiplier)), 1, {
      name: `features.${index}.0`,
    }),
    { name: `features.${index}.1` },
  ));
  x = dropoutLayer(globalAveragePool(x), dropout);
  const logits = dense(x, numClasses, { name: "classifier.1" });
  return tfl.model({ inputs: input, outputs: logits, name: "mobilenetv2" });
}

registerModel(
  "mobilenetv2",
  "MobileNetV2, width multiplier 1 (torchvision's layout)",
  (options) => mobilenetV2(options),
);
