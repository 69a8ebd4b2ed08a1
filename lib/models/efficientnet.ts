/**
 * `efficientnet-b0`: torchvision's EfficientNet-B0 (MBConv blocks with SiLU and
 * squeeze-excitation). With the default stem "auto", inputs of 64 px or less keep stride 1 in the
 * stem and in the first strided stage, the CIFAR adaptation of `mobilenetv2` (the weights' shapes
 * are the same either way).
 *
 * Only stock tfjs-layers classes are used (SiLU is tfjs' built-in `swish` activation), so a saved
 * model loads with plain @tensorflow/tfjs. Layers with weights are named by their torchvision
 * module paths (`features.2.0.block.2.fc1`, `classifier.1`), so a torchvision state_dict maps
 * onto the model by name.
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
  sigmoid,
  silu,
  squeezeExcitation,
  type Tensor,
} from "./_blocks.ts";
import { type ModelOptions, registerModel } from "./registry.ts";

/**
 * Options beyond the common ones.
 *
 * @example
 * ```ts
 * import type { EfficientNetOptions } from "./efficientnet.ts";
 * // torchvision's training recipe: dropout 0.2, stochastic depth 0.2
 * const options: EfficientNetOptions = {
 *   inputShape: [224, 224, 3],
 *   numClasses: 10,
 *   stochasticDepth: 0.2,
 * };
 * ```
 */
export interface EfficientNetOptions extends ModelOptions {
  /** Dropout before the classifier. Default: 0.2. */
  dropout?: number;
  /**
   * Stochastic depth: the largest probability of dropping a residual branch per sample, rising
   * linearly from 0 over the blocks as in torchvision (which trains with 0.2). Built from stock
   * Dropout layers with `noiseShape` [null, 1, 1, 1] (torchvision's "row" mode; identity at
   * inference), whose masks come from `Math.random` like every tfjs dropout. Default: 0, no
   * stochastic depth, so that training from scratch omits it unless asked.
   */
  stochasticDepth?: number;
}

// torchvision's MBConvConfig for B0: expansion, kernel, stride, output channels, repeats
const B0: [number, number, number, number, number][] = [
  [1, 3, 1, 16, 1],
  [6, 3, 2, 24, 2],
  [6, 5, 2, 40, 2],
  [6, 3, 2, 80, 3],
  [6, 5, 1, 112, 3],
  [6, 5, 2, 192, 4],
  [6, 3, 1, 320, 1],
];

function mbConv(
  x: Tensor,
  [expansion, kernel, stride, out]: [number, number, number, number],
  dropPath: number,
  name: string,
): Tensor {
  const inChannels = x.shape[3] as number;
  const expanded = makeDivisible(inChannels * expansion, 8);
  let y = x;
  let i = 0;
  if (expanded !== inChannels) {
    y = silu(batchNorm(conv(y, expanded, 1, { name: `${name}.block.0.0` }), {
      name: `${name}.block.0.1`,
    }));
    i++;
  }
  y = silu(batchNorm(depthwise(y, kernel, stride, { name: `${name}.block.${i}.0` }), {
    name: `${name}.block.${i}.1`,
  }));
  y = squeezeExcitation(y, Math.max(1, Math.floor(inChannels / 4)), {
    name: `${name}.block.${i + 1}`,
    activation: silu,
    gate: sigmoid,
  });
  y = batchNorm(conv(y, out, 1, { name: `${name}.block.${i + 2}.0` }), {
    name: `${name}.block.${i + 2}.1`,
  });
  if (stride !== 1 || inChannels !== out) return y;
  if (dropPath > 0) {
    y = tfl.layers.dropout({ rate: dropPath, noiseShape: [null, 1, 1, 1] as unknown as number[] })
      .apply(y) as Tensor;
  }
  return add(y, x);
}

/**
 * Builds EfficientNet-B0 for `inputShape` and `numClasses` logits: 5,288,548 trainable
 * parameters at 1000 classes, as torchvision's `efficientnet_b0`. Batch norms use PyTorch's
 * defaults (eps 1e-5, momentum 0.1), as torchvision's B0 does. Stochastic depth is identity at
 * inference; training from scratch here omits it unless `stochasticDepth` is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { efficientNetB0 } from "./efficientnet.ts";
 * await useBackend("wasm");
 * const model = efficientNetB0({ inputShape: [32, 32, 3], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * assert.equal(model.getLayer("features.2.0.block.2.fc1").getClassName(), "Conv2D");
 * model.dispose();
 * ```
 */
export function efficientNetB0(options: EfficientNetOptions): tfl.LayersModel {
  const { inputShape, numClasses, dropout = 0.2, stochasticDepth = 0 } = options;
  const small = cifarStem(options.stem, inputShape);
  const input = tfl.input({ shape: inputShape });
  let x = silu(batchNorm(
    conv(input, 32, 3, { strides: small ? 1 : 2, padding: 1, name: "features.0.0" }),
    { name: "features.0.1" },
  ));
  const total = B0.reduce((sum, setting) => sum + setting[4], 0);
  let block = 0;
  for (const [stage, [expansion, kernel, stride, out, repeats]] of B0.entries()) {
    for (let i = 0; i < repeats; i++) {
      const s = i > 0 ? 1 : small && stage === 1 ? 1 : stride;
      const dropPath = stochasticDepth * block++ / total;
      x = mbConv(x, [expansion, kernel, s, out], dropPath, `features.${stage + 1}.${i}`);
    }
  }
  const last = B0.length + 1;
  x = silu(batchNorm(conv(x, 1280, 1, { name: `features.${last}.0` }), {
    name: `features.${last}.1`,
  }));
  x = dropoutLayer(globalAveragePool(x), dropout);
  const logits = dense(x, numClasses, { name: "classifier.1" });
  return tfl.model({ inputs: input, outputs: logits, name: "efficientnet-b0" });
}

registerModel(
  "efficientnet-b0",
  "EfficientNet-B0 (torchvision's layout; CIFAR strides for inputs ≤ 64 px)",
  (options) => efficientNetB0(options),
);
