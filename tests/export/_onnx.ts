// Internal test helpers for the ONNX export: random weights (batch-norm statistics included, so
// folding is tested), TF.js and ONNX Runtime (onnxruntime-web's wasm build) on the same input,
// and onnx.checker from Debian's python3-onnx (tests that need it are ignored where it is absent).
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import * as ort from "onnxruntime-web";
import { Rng } from "../../lib/_internal/rng.ts";
import { PYTHON, pythonImports } from "../pretrained/_python.ts";

export { PYTHON };

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/**
 * Gives every weight of `model` seeded random values: kernels ~ N(0, 1/fan_in) (so activations
 * keep their scale through deep nets), biases, and batch norms' γ, β, mean and variance away from
 * their 1/0 defaults.
 */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed, 0x0aa);
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    const values = weights.map((variable) => {
      const shape = variable.shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      const short = variable.originalName.split("/").pop() as string;
      const fanIn = shape.length > 1 ? size / shape[shape.length - 1] : 1;
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        data[i] = short === "gamma"
          ? rng.uniform(0.5, 1.5)
          : short === "moving_variance"
          ? rng.uniform(0.5, 2)
          : short === "beta" || short === "moving_mean" || short === "bias"
          ? 0.2 * rng.normal()
          : short === "depthwise_kernel"
          ? rng.normal() / Math.sqrt(shape[0] * shape[1])
          : rng.normal() * Math.sqrt(2 / fanIn);
      }
      return tf.tensor(data, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** A seeded NHWC batch for `model`'s input. */
export function randomInput(model: tfl.LayersModel, batch: number, seed: number): tf.Tensor {
  const shape = [batch, ...model.inputs[0].shape.slice(1)] as number[];
  const rng = new Rng(seed, 0x1ba);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
  return tf.tensor(data, shape);
}

/** TF.js' output for `x` (inference mode). */
export function tfjsOutput(model: tfl.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array).slice();
}

/** ONNX Runtime's `logits` for the NHWC batch `x` (given to the graph as NCHW `input`). */
export async function ortOutput(bytes: Uint8Array, x: tf.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const input = x.rank === 4
      ? tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]))
      : tf.tidy(() => x.clone());
    const data = input.dataSync() as Float32Array;
    const feeds = { input: new ort.Tensor("float32", data.slice(), input.shape) };
    input.dispose();
    const out = await session.run(feeds);
    return (out.logits.data as Float32Array).slice();
  } finally {
    await session.release();
  }
}

/** The largest |a − b| over the largest |a|. */
export function relativeError(expected: Float32Array, actual: Float32Array): number {
  if (expected.length !== actual.length) return Infinity;
  let error = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    error = Math.max(error, Math.abs(expected[i] - actual[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? error : error / scale;
}

/** Whether Debian's python3 has the onnx package (under this run's permissions). */
export async function hasOnnxChecker(): Promise<boolean> {
  return await pythonImports("onnx");
}

const CHECK = `
import sys, onnx
for path in sys.argv[1:]:
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    print("ok", path)
`;

/** Runs onnx.checker (full check) and strict shape inference on each file; throws on a failure. */
export async function checkWithOnnx(paths: string[]): Promise<void> {
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-c", CHECK, ...paths],
  }).output();
  const text = new TextDecoder();
  if (!success) throw new Error(`onnx.checker failed:\n${text.decode(stderr)}`);
  const checked = text.decode(stdout).trim().split("\n").filter((line) => line.startsWith("ok"));
  if (checked.length !== paths.length) throw new Error(`onnx.checker checked ${checked.length}`);
}
