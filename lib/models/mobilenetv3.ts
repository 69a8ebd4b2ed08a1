/**
 * `mobilenetv3-large`: torchvision's MobileNetV3-Large (inverted residuals with hard-swish and
 * squeeze-excitation). With the default stem "auto", inputs of 64 px or less keep stride 1 in the
 * stem and in the first strided block, the CIFAR adaptation of `mobilenetv2` (the weights' shapes
 * are the same either way).
 *
 * Only stock tfjs-layers classes are used: hard-swish is x · relu6(x + 3) / 6 built from
 * Rescaling, ReLU (max 1) and Multiply, so a saved model loads with plain @tensorflow/tfjs. Layers
 * with weights are named by their torchvision module paths (`features.4.block.2.fc1`,
 * `classifier.3`), so a torchvision state_dict maps onto the model by name.
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
  hardSigmoid,
  hardSwish,
  makeDivisible,
  relu,
  squeezeExcitation,
  type Tensor,
} from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

/**
 * Options beyond the common ones.
 *
 * @example
 * ```ts
 * import type { MobileNetV3Options } from "./mobilenetv3.ts";
 * const options: MobileNetV3Options = { inputShape: [224, 224, 3], numClasses: 10, dropout: 0.5 };
 * ```
 */
export interface MobileNetV3Options extends ModelOptions {
  /** Dropout before the last linear layer. Default: 0.2. */
  dropout?: number;
}

// torchvision's bneck_conf for the large model:
// kernel, expanded channels, output channels, squeeze-excitation, hard-swish, stride
const LARGE: [number, number, number, boolean, boolean, number][] = [
  [3, 16, 16, false, false, 1],
  [3, 64, 24, false, false, 2],
  [3, 72, 24, false, false, 1],
  [5, 72, 40, true, false, 2],
  [5, 120, 40, true, false, 1],
  [5, 120, 40, true, false, 1],
  [3, 240, 80, false, true, 2],
  [3, 200, 80, false, true, 1],
  [3, 184, 80, false, true, 1],
  [3, 184, 80, false, true, 1],
  [3, 480, 112, true, true, 1],
  [3, 672, 112, true, true, 1],
  [5, 672, 160, true, true, 2],
  [5, 960, 160, true, true, 1],
  [5, 960, 160, true, true, 1],
];

/** torchvision builds MobileNetV3's batch norms with eps 0.001 and momentum 0.01. */
const bn = (x: Tensor, name: string) => batchNorm(x, { name, eps: 1e-3, momentum: 0.01 });

function invertedResidual(
  x: Tensor,
  [kernel, expanded, out, se, hs, stride]: (typeof LARGE)[number],
  name: string,
): Tensor {
  const inChannels = x.shape[3] as number;
  const activation = hs ? hardSwish : relu;
  let y = x;
  let i = 0;
  if (expanded !== inChannels) {
    y = activation(bn(conv(y, expanded, 1, { name: `${name}.block.0.0` }), `${name}.block.0.1`));
    i++;
  }
  y = activation(bn(
    depthwise(y, kernel, stride, { name: `${name}.block.${i}.0` }),
    `${name}.block.${i}.1`,
  ));
  i++;
  if (se) {
    y = squeezeExcitation(y, makeDivisible(Math.floor(expanded / 4), 8), {
      name: `${name}.block.${i}`,
      activation: relu,
      gate: hardSigmoid,
    });
    i++;
  }
  y = bn(conv(y, out, 1, { name: `${name}.block.${i}.0` }), `${name}.block.${i}.1`);
  return stride === 1 && inChannels === out ? add(x, y) : y;
}

/**
 * Builds MobileNetV3-Large for `inputShape` and `numClasses` logits: 5,483,032 trainable
 * parameters at 1000 classes, as torchvision's `mobilenet_v3_large`. Batch norms use torchvision's
 * eps 0.001 and momentum 0.01 (Keras' 0.99), so the moving statistics settle over a few hundred
 * steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { mobilenetV3Large } from "./mobilenetv3.ts";
 * await useBackend("wasm");
 * const model = mobilenetV3Large({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * assert.equal(model.getLayer("features.4.block.2.fc1").getClassName(), "Conv2D");
 * model.dispose();
 * ```
 */
export function mobilenetV3Large(options: MobileNetV3Options): tfl.LayersModel {
  const { inputShape, numClasses, dropout = 0.2 } = options;
  const small = cifarStem(options.stem, inputShape);
  const input = tfl.input({ shape: inputShape });
  let x = hardSwish(bn(
    conv(input, 16, 3, { strides: small ? 1 : 2, padding: 1, name: "features.0.0" }),
    "features.0.1",
  ));
  for (const [i, [kernel, expanded, out, se, hs, stride]] of LARGE.entries()) {
    // LARGE[1] (features.2) is the first strided block; the CIFAR adaptation keeps stride 1 there.
    const s = small && i === 1 ? 1 : stride;
    x = invertedResidual(x, [kernel, expanded, out, se, hs, s], `features.${i + 1}`);
  }
  const last = LARGE.length + 1;
  x = hardSwish(bn(conv(x, 960, 1, { name: `features.${last}.0` }), `features.${last}.1`));
  x = globalAveragePool(x);
  x = hardSwish(dense(x, 1280, { name: "classifier.0" }));
  x = dropoutLayer(x, dropout);
  const logits = dense(x, numClasses, { name: "classifier.3" });
  return tfl.model({ inputs: input, outputs: logits, name: "mobilenetv3-large" });
}

registerModel(
  "mobilenetv3-large",
  "MobileNetV3-Large (torchvision's layout; CIFAR strides for inputs ≤ 64 px)",
  (options) => mobilenetV3Large(options),
);
