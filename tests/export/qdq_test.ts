import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  activationQuantization,
  createModel,
  OnnxExportError,
  QuantizationAwareTraining,
  quantizeOnnxWeights,
  toOnnx,
  uint8Quantization,
  useBackend,
} from "../../mod.ts";
import { decodeModel } from "../../lib/export/_proto.ts";
import {
  checkWithOnnx,
  hasOnnxChecker,
  ortOutput,
  randomInput,
  relativeError,
  tfjsOutput,
} from "./_onnx.ts";
import { tempDir } from "../_tmp.ts";

type Init = { name: string; raw_data?: Uint8Array; data_type?: number };
function initializers(bytes: Uint8Array): Map<string, Init> {
  const graph = decodeModel(bytes).graph as { initializer: Init[] };
  return new Map(graph.initializer.map((i) => [i.name, i]));
}
const f32 = (b: Uint8Array) => new Float32Array(new Uint8Array(b).buffer);

/** Largest |dequantized − float| over each weight's step, for every quantized weight. */
function gridError(model: ReturnType<typeof createModel>): number {
  const float = toOnnx(model);
  const { bytes, weights } = quantizeOnnxWeights(float);
  const before = initializers(float), after = initializers(bytes);
  let worst = 0;
  for (const { name, axis, scales } of weights) {
    const w = f32(before.get(name)!.raw_data!);
    const q = new Int8Array(new Uint8Array(after.get(`${name}_quantized`)!.raw_data!).buffer);
    for (let i = 0; i < w.length; i++) {
      const c = axis === 0 ? Math.floor(i / (w.length / scales.length)) : i % scales.length;
      worst = Math.max(worst, Math.abs(q[i] * scales[c] - w[i]) / scales[c]);
    }
  }
  return worst;
}

Deno.test("QDQ: int8 per-channel weights with DequantizeLinear, 4x smaller, ONNX Runtime agrees", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 4 });
  const float = toOnnx(model);
  const { bytes, weights } = quantizeOnnxWeights(float);
  assert.equal(weights.length, 4); // three convolutions (batch norm folded in) and the head
  assert.ok(bytes.length < float.length * 0.4, `${bytes.length} vs ${float.length}`);
  const x = randomInput(model, 2, 1);
  const error = relativeError(tfjsOutput(model, x), await ortOutput(bytes, x));
  assert.ok(error < 0.05, `post-training int8 weights: relative error ${error}`);
  x.dispose();
  model.dispose();
});

Deno.test("QDQ: QAT's per-channel scales survive batch-norm folding and the export exactly", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 4 });
  // Batch norm with statistics of its own, so that folding really rescales the channels.
  for (const layer of model.layers.filter((l) => l.getClassName() === "BatchNormalization")) {
    const values = layer.getWeights().map((w, i) =>
      tf.tidy(() =>
        tf.add(tf.mul(tf.randomUniform(w.shape, 0.5, 1.5, "float32", i), 1), i === 1 ? -1 : 0)
      )
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
  assert.ok(gridError(model) > 0.05); // float weights are off the grid: PTQ rounds them
  const qat = new QuantizationAwareTraining(model, { epochs: 1 });
  qat.bake();
  qat.dispose();
  assert.ok(gridError(model) < 1e-3, `${gridError(model)}`);
  const x = randomInput(model, 2, 1);
  const { bytes } = quantizeOnnxWeights(toOnnx(model));
  const error = relativeError(tfjsOutput(model, x), await ortOutput(bytes, x));
  assert.ok(error < 1e-4, `QAT weights through QDQ: relative error ${error}`);
  x.dispose();
  model.dispose();
});

/** compact-cnn after QAT (per-channel kernels, observed input ranges), baked; QAT left on. */
function qatModel() {
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 4 });
  const qat = new QuantizationAwareTraining(model, { epochs: 1 });
  qat.enabled = true;
  for (let i = 0; i < 3; i++) {
    const x = randomInput(model, 4, 10 + i);
    tf.dispose([model.apply(x, { training: true }) as tf.Tensor, x]);
  }
  qat.bake();
  return { model, qat };
}

Deno.test("QDQ: QAT's activation ranges become uint8 QuantizeLinear/DequantizeLinear pairs that round-trip, and ONNX Runtime computes the fake-quantized forward", async () => {
  await useBackend("cpu");
  const { model, qat } = qatModel();
  const ranges = qat.ranges();
  assert.equal(ranges.length, 4); // the inputs of three convolutions and the head
  const { bytes, activations } = quantizeOnnxWeights(toOnnx(model), { activations: ranges });
  assert.equal(activations.length, 4);
  // Scale and zero point read back from the file are the ones QAT trained with.
  const inits = initializers(bytes);
  for (const { layer, activation } of ranges) {
    const trained = activationQuantization(activation);
    assert.deepEqual(uint8Quantization(activation), trained);
    const scale = f32(inits.get(`${layer}.input_scale`)!.raw_data!)[0];
    const zero = inits.get(`${layer}.input_zero_point`)!;
    assert.equal(zero.data_type, 2); // uint8, ONNX's convention for activations
    assert.equal(scale, trained.scale);
    assert.equal(new Uint8Array(zero.raw_data!)[0], trained.zeroPoint);
  }
  const graph = decodeModel(bytes).graph as { node: { op_type: string }[] };
  assert.equal(graph.node.filter((n) => n.op_type === "QuantizeLinear").length, 4);
  // ONNX Runtime on the int8 file against our fake-quantized forward (QAT still enabled). Batch
  // norm folded into the convolutions moves values by float rounding, which can move a value
  // across a rounding boundary: a step here and there, so the tolerance is 1% of the largest logit.
  const x = randomInput(model, 4, 1);
  const fake = tfjsOutput(model, x);
  const error = relativeError(fake, await ortOutput(bytes, x));
  assert.ok(error < 1e-2, `QAT through activation QDQ: relative error ${error}`);
  // And the activation quantization is really there: without it the float forward differs more.
  qat.enabled = false;
  const float = tfjsOutput(model, x);
  assert.ok(relativeError(float, fake) > error, `${relativeError(float, fake)} vs ${error}`);
  assert.throws(
    () =>
      quantizeOnnxWeights(toOnnx(model), { activations: [{ layer: "nope", activation: [0, 1] }] }),
    OnnxExportError,
  );
  x.dispose();
  qat.dispose();
  model.dispose();
});

Deno.test({
  name: "QDQ: onnx.checker (full check) and strict shape inference accept the int8 models",
  ignore: !(await hasOnnxChecker()),
  async fn() {
    await useBackend("cpu");
    const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 4 });
    const dir = await tempDir("qdq");
    await Deno.writeFile(`${dir}/model.onnx`, quantizeOnnxWeights(toOnnx(model)).bytes);
    const { model: trained, qat } = qatModel();
    const activations = qat.ranges();
    await Deno.writeFile(
      `${dir}/model.qdq.onnx`,
      quantizeOnnxWeights(toOnnx(trained), { activations }).bytes,
    );
    await checkWithOnnx([`${dir}/model.onnx`, `${dir}/model.qdq.onnx`]);
    qat.dispose();
    trained.dispose();
    await Deno.remove(dir, { recursive: true });
    model.dispose();
  },
});
