// Internal: FusedBatchNorm's gradient without the Tile of tfjs-core 4.22. tfjs tiles
// 1/sqrt(variance) to the full NHWC shape before multiplying it into dy; a broadcast multiply
// gives the same numbers without materialising that tensor, and the wasm backend's Tile was the
// largest kernel in a batch-norm CNN's training step (102 of ~280 ms for compact-cnn, batch 64).
import {
  add,
  type GradConfig,
  mul,
  type NamedAttrMap,
  registerGradient,
  reshape,
  rsqrt,
  scalar,
  sub,
  sum,
  type Tensor,
} from "@tensorflow/tfjs-core";
// Loading tfjs-layers (or a backend package) evaluates another copy of tfjs-core's gradient
// table, which would put the tiled gradient back: load them first, then override.
import "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";

/** Axes of `shape` that `reduced` (rank 1, the last axis) broadcasts over. */
function reductionAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

const fusedBatchNormGrad: GradConfig = {
  kernelName: "FusedBatchNorm",
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const gradient = dy as Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved;
    const scaleValue = scale ?? scalar(1);
    const perChannel = mean.rank === 1;
    const axes = reductionAxes(x.rank);
    const reduce = (t: Tensor) => reshape(perChannel ? sum(t, axes) : t, mean.shape);
    // Full-size temporaries are made inside the thunks, each run in its own tidy by the tape,
    // so none outlives its own input gradient (made here, they would live until backward ends).
    const oneOverSqrtVariance = rsqrt(add(variance, scalar(varianceEpsilon)));
    const minusHalfRCube = mul(
      mul(mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance),
      scalar(-0.5),
    );
    return {
      x: () => reshape(mul(mul(gradient, oneOverSqrtVariance), scaleValue), x.shape),
      mean: () => reduce(mul(mul(oneOverSqrtVariance, scalar(-1)), mul(gradient, scaleValue))),
      variance: () => reduce(mul(mul(minusHalfRCube, sub(x, mean)), mul(gradient, scaleValue))),
      scale: () => reduce(mul(gradient, mul(sub(x, mean), oneOverSqrtVariance))),
      offset: () => reduce(gradient),
    };
  },
};

// tfjs warns once when a gradient is overridden; the replacement is deliberate.
const warn = console.warn;
console.warn = () => {};
try {
  registerGradient(fusedBatchNormGrad);
} finally {
  console.warn = warn;
}
