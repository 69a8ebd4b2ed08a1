// Internal: building blocks shared by the architectures, with PyTorch's conventions: symmetric
// zero padding (so shapes and weights line up with torchvision's), no bias before batch norm,
// and batch norm with PyTorch's momentum 0.1 (Keras' 0.9) and epsilon 1e-5.
import * as tfl from "@tensorflow/tfjs-layers";

export type Tensor = tfl.SymbolicTensor;

/** Conv (+ optional BN and activation) with PyTorch-style symmetric padding. */
export function conv(
  x: Tensor,
  filters: number,
  kernelSize: number,
  options: {
    strides?: number;
    padding?: number;
    bias?: boolean;
    name?: string;
  } = {},
): Tensor {
  const padding = options.padding ?? 0;
  const padded = padding > 0 ? tfl.layers.zeroPadding2d({ padding }).apply(x) as Tensor : x;
  return tfl.layers.conv2d({
    filters,
    kernelSize,
    strides: options.strides ?? 1,
    padding: "valid",
    useBias: options.bias ?? false,
    kernelInitializer: "heNormal",
    name: options.name,
  }).apply(padded) as Tensor;
}

/** Depthwise 3×3 (or k×k) convolution, PyTorch padding, no bias. */
export function depthwise(x: Tensor, kernelSize: number, strides: number): Tensor {
  const padded = tfl.layers.zeroPadding2d({ padding: (kernelSize - 1) / 2 }).apply(x) as Tensor;
  return tfl.layers.depthwiseConv2d({
    kernelSize,
    strides,
    padding: "valid",
    useBias: false,
    depthwiseInitializer: "heNormal",
  }).apply(padded) as Tensor;
}

export function batchNorm(x: Tensor): Tensor {
  return tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as Tensor;
}

export function relu(x: Tensor): Tensor {
  return tfl.layers.reLU().apply(x) as Tensor;
}

export function relu6(x: Tensor): Tensor {
  return tfl.layers.reLU({ maxValue: 6 }).apply(x) as Tensor;
}

export function maxPool(x: Tensor, size: number, strides: number, padding = 0): Tensor {
  const padded = padding > 0 ? tfl.layers.zeroPadding2d({ padding }).apply(x) as Tensor : x;
  return tfl.layers.maxPooling2d({ poolSize: size, strides, padding: "valid" }).apply(
    padded,
  ) as Tensor;
}

export function dense(x: Tensor, units: number, activation?: "relu"): Tensor {
  return tfl.layers.dense({ units, activation }).apply(x) as Tensor;
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
