// Internal: building blocks shared by the architectures, with PyTorch's conventions: symmetric
// zero padding (so shapes and weights line up with torchvision's), no bias before batch norm,
// and batch norm with PyTorch's momentum 0.1 (Keras' 0.9) and epsilon 1e-5 unless told otherwise.
//
// Layers that hold weights take a `name`: the torchvision module path of the same weights
// (`layer1.0.conv1`, `features.2.conv.1.0`), so a torchvision state_dict maps onto a model by
// name. Weightless helpers (padding, activations, add, multiply) keep tfjs' automatic names.
// Only stock tfjs-layers classes are used, so a saved model loads with plain @tensorflow/tfjs.
import * as tfl from "@tensorflow/tfjs-layers";

export type Tensor = tfl.SymbolicTensor;

/** Options of {@linkcode conv}. */
export interface ConvOptions {
  /** Stride. Default: 1. */
  strides?: number;
  /** Symmetric zero padding on each side, PyTorch's `padding`. Default: 0. */
  padding?: number;
  /** Whether the conv has a bias. Default: false. */
  bias?: boolean;
  /** Layer name: the torchvision module path. Default: automatic. */
  name?: string;
}

/**
 * Whether tfjs' `same` padding is PyTorch's symmetric `padding` here: at stride 1 with an odd
 * kernel and `padding = (k − 1) / 2` it pads (k − 1) / 2 on every side. The conv then pads by
 * itself, and training does not keep a padded copy of its input (a ZeroPadding2D output).
 * At stride 2, `same` pads asymmetrically, so PyTorch's layout needs the explicit padding.
 */
function sameAsSymmetric(kernelSize: number, strides: number, padding: number): boolean {
  return strides === 1 && padding > 0 && kernelSize % 2 === 1 && 2 * padding === kernelSize - 1;
}

/**
 * Conv2d with PyTorch-style symmetric padding (ZeroPadding2D, then a valid conv). Grouped convs
 * are not supported by tfjs' Conv2D; the one grouped conv these models need, groups = channels,
 * is {@linkcode depthwise}.
 */
export function conv(
  x: Tensor,
  filters: number,
  kernelSize: number,
  options: ConvOptions = {},
): Tensor {
  const padding = options.padding ?? 0;
  const strides = options.strides ?? 1;
  const same = sameAsSymmetric(kernelSize, strides, padding);
  const padded = padding > 0 && !same
    ? tfl.layers.zeroPadding2d({ padding }).apply(x) as Tensor
    : x;
  return tfl.layers.conv2d({
    filters,
    kernelSize,
    strides,
    padding: same ? "same" : "valid",
    useBias: options.bias ?? false,
    kernelInitializer: "heNormal",
    name: options.name,
  }).apply(padded) as Tensor;
}

/**
 * Depthwise k×k convolution with PyTorch's `(k - 1) / 2` padding and no bias: torch's Conv2d with
 * `groups = in_channels`, whose (C, 1, kh, kw) weight is tfjs' (kh, kw, C, 1) depthwise kernel.
 */
export function depthwise(
  x: Tensor,
  kernelSize: number,
  strides: number,
  options: { name?: string } = {},
): Tensor {
  const padding = (kernelSize - 1) / 2;
  const same = sameAsSymmetric(kernelSize, strides, padding);
  const padded = same ? x : tfl.layers.zeroPadding2d({ padding }).apply(x) as Tensor;
  return tfl.layers.depthwiseConv2d({
    kernelSize,
    strides,
    padding: same ? "same" : "valid",
    useBias: false,
    depthwiseInitializer: "heNormal",
    name: options.name,
  }).apply(padded) as Tensor;
}

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** Layer name: the torchvision module path. Default: automatic. */
  name?: string;
  /** PyTorch's `eps`. Default: 1e-5. */
  eps?: number;
  /** PyTorch's `momentum`, the new batch's weight (Keras' momentum is 1 − this). Default: 0.1. */
  momentum?: number;
}

/** BatchNorm2d with PyTorch's defaults (eps 1e-5, momentum 0.1). */
export function batchNorm(x: Tensor, options: BatchNormOptions = {}): Tensor {
  return tfl.layers.batchNormalization({
    momentum: 1 - (options.momentum ?? 0.1),
    epsilon: options.eps ?? 1e-5,
    name: options.name,
  }).apply(x) as Tensor;
}

export function relu(x: Tensor): Tensor {
  return tfl.layers.reLU().apply(x) as Tensor;
}

export function relu6(x: Tensor): Tensor {
  return tfl.layers.reLU({ maxValue: 6 }).apply(x) as Tensor;
}

/** SiLU, x·sigmoid(x): tfjs' built-in `swish` activation. */
export function silu(x: Tensor): Tensor {
  return tfl.layers.activation({ activation: "swish" }).apply(x) as Tensor;
}

export function sigmoid(x: Tensor): Tensor {
  return tfl.layers.activation({ activation: "sigmoid" }).apply(x) as Tensor;
}

/**
 * PyTorch's Hardsigmoid, relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1), from stock layers
 * (Rescaling, then ReLU capped at 1). Keras' `hardSigmoid` activation has slope 0.2, not 1/6.
 */
export function hardSigmoid(x: Tensor): Tensor {
  const scaled = tfl.layers.rescaling({ scale: 1 / 6, offset: 0.5 }).apply(x) as Tensor;
  return tfl.layers.reLU({ maxValue: 1 }).apply(scaled) as Tensor;
}

/** PyTorch's Hardswish, x · relu6(x + 3) / 6. */
export function hardSwish(x: Tensor): Tensor {
  return tfl.layers.multiply().apply([x, hardSigmoid(x)]) as Tensor;
}

/**
 * torchvision's SqueezeExcitation: global average pool → fc1 (1×1 conv with bias) → activation →
 * fc2 (1×1 conv with bias) → gate, and the feature map scaled by the gate (Multiply broadcasts
 * the [1, 1, C] gate over [H, W, C]). `name` is the module path; the convs are `name.fc1` and
 * `name.fc2`.
 */
export function squeezeExcitation(
  x: Tensor,
  squeeze: number,
  options: { name: string; activation: (x: Tensor) => Tensor; gate: (x: Tensor) => Tensor },
): Tensor {
  const channels = x.shape[3] as number;
  let s = tfl.layers.globalAveragePooling2d({}).apply(x) as Tensor;
  s = tfl.layers.reshape({ targetShape: [1, 1, channels] }).apply(s) as Tensor;
  s = options.activation(conv(s, squeeze, 1, { bias: true, name: `${options.name}.fc1` }));
  s = options.gate(conv(s, channels, 1, { bias: true, name: `${options.name}.fc2` }));
  return tfl.layers.multiply().apply([x, s]) as Tensor;
}

export function maxPool(x: Tensor, size: number, strides: number, padding = 0): Tensor {
  const padded = padding > 0 ? tfl.layers.zeroPadding2d({ padding }).apply(x) as Tensor : x;
  return tfl.layers.maxPooling2d({ poolSize: size, strides, padding: "valid" }).apply(
    padded,
  ) as Tensor;
}

export function dense(
  x: Tensor,
  units: number,
  options: { activation?: "relu"; name?: string } = {},
): Tensor {
  return tfl.layers.dense({ units, activation: options.activation, name: options.name }).apply(
    x,
  ) as Tensor;
}

export function globalAveragePool(x: Tensor): Tensor {
  return tfl.layers.globalAveragePooling2d({}).apply(x) as Tensor;
}

export function dropout(x: Tensor, rate: number): Tensor {
  return rate > 0 ? tfl.layers.dropout({ rate }).apply(x) as Tensor : x;
}

export function add(a: Tensor, b: Tensor): Tensor {
  return tfl.layers.add().apply([a, b]) as Tensor;
}

/** torchvision's `_make_divisible`: round to a multiple of `divisor`, never more than 10% down. */
export function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(
    divisor,
    Math.floor(value + divisor / 2) - ((Math.floor(value + divisor / 2)) % divisor),
  );
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/** Whether `stem` (with "auto" deciding by size) means the CIFAR adaptation for `inputShape`. */
export function cifarStem(
  stem: "auto" | "imagenet" | "cifar" | undefined,
  inputShape: readonly number[],
): boolean {
  if (stem === "cifar") return true;
  if (stem === "imagenet") return false;
  if (stem !== undefined && stem !== "auto") {
    throw new RangeError(`unknown stem '${stem}': expected auto, imagenet or cifar`);
  }
  return Math.max(inputShape[0], inputShape[1]) <= 64;
}

/**
 * PyTorch's default initialisation of Conv2d and Linear (kaiming_uniform with a = √5): weights
 * and biases uniform in ±1/√fan_in. The seeds' models were tuned with it.
 */
export function torchInit(fanIn: number, seed?: number): {
  kernelInitializer: ReturnType<typeof tfl.initializers.varianceScaling>;
  biasInitializer: ReturnType<typeof tfl.initializers.randomUniform>;
} {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: tfl.initializers.varianceScaling({
      scale: 1 / 3,
      mode: "fanIn",
      distribution: "uniform",
      seed,
    }),
    biasInitializer: tfl.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: seed === undefined ? undefined : seed + 0.5,
    }),
  };
}

/** A per-layer seed derived from the model seed (undefined stays unseeded). */
export function layerSeed(seed: number | undefined, layer: number): number | undefined {
  return seed === undefined ? undefined : seed * 1000 + layer;
}
