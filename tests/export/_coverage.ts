// Internal test helper: a model with every layer class and padding case the ONNX export
// supports that the zoo does not use.
import * as tfl from "@tensorflow/tfjs-layers";

/** A model with every supported layer class and padding case the zoo does not use. */
export function coverageModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [15, 14, 3] });
  const l = tfl.layers;
  type T = tfl.SymbolicTensor;
  // 'same' at stride 2 with even and odd kernels pads asymmetrically (more after).
  let a = l.conv2d({ filters: 6, kernelSize: 4, strides: 2, padding: "same", activation: "elu" })
    .apply(input) as T;
  a = l.batchNormalization({ epsilon: 1e-3 }).apply(a) as T; // after a nonlinear conv: not folded
  let b = l.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: "same", dilationRate: 1 })
    .apply(input) as T;
  b = l.leakyReLU({ alpha: 0.1 }).apply(b) as T;
  let x = l.concatenate().apply([a, b]) as T;
  x = l.separableConv2d({ filters: 8, kernelSize: 3, padding: "same", depthMultiplier: 2 })
    .apply(x) as T;
  x = l.batchNormalization({ center: false }).apply(x) as T;
  x = l.activation({ activation: "tanh" }).apply(x) as T;
  const y = l.conv2d({ filters: 8, kernelSize: 3, padding: "same", dilationRate: 2 }).apply(x) as T;
  x = l.add().apply([x, y]) as T;
  x = l.maximum().apply([x, l.reLU({ maxValue: 0.5 }).apply(y) as T]) as T;
  x = l.average().apply([x, y, l.activation({ activation: "relu6" }).apply(y) as T]) as T;
  // Zero padding before a max pool of values that can be negative (0, not −∞, in the pads).
  x = l.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(x) as T;
  x = l.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }).apply(x) as T;
  x = l.averagePooling2d({ poolSize: 2, strides: 2, padding: "same" }).apply(x) as T;
  // Zero padding before an average pool (the zeros count) and before an activation (a Pad).
  x = l.zeroPadding2d({ padding: [[0, 1], [1, 0]] }).apply(x) as T;
  x = l.averagePooling2d({ poolSize: 2, strides: 1, padding: "valid" }).apply(x) as T;
  x = l.zeroPadding2d({ padding: 1 }).apply(x) as T;
  x = l.activation({ activation: "selu" }).apply(x) as T;
  x = l.depthwiseConv2d({ kernelSize: 2, padding: "same", depthMultiplier: 1, useBias: true })
    .apply(x) as T;
  x = l.activation({ activation: "softplus" }).apply(x) as T;
  const pooled = l.globalMaxPooling2d({}).apply(x) as T;
  let flat = l.flatten().apply(x) as T; // H, W > 1: flattens H, W, C as tfjs does
  flat = l.dense({ units: 12, activation: "sigmoid" }).apply(flat) as T;
  flat = l.batchNormalization({}).apply(flat) as T;
  flat = l.reshape({ targetShape: [2, 2, 3] }).apply(flat) as T;
  flat = l.globalAveragePooling2d({}).apply(flat) as T;
  flat = l.rescaling({ scale: 0.5, offset: 0.1 }).apply(flat) as T;
  let z = l.concatenate().apply([pooled, flat]) as T;
  z = l.dropout({ rate: 0.5 }).apply(z) as T;
  z = l.dense({ units: 5, activation: "swish" }).apply(z) as T;
  z = l.multiply().apply([z, l.activation({ activation: "hardSigmoid" }).apply(z) as T]) as T;
  const probabilities = l.softmax().apply(z) as T;
  return tfl.model({ inputs: input, outputs: probabilities, name: "coverage" });
}
