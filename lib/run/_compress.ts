// Internal: the compression flags of a training run: `--teacher` (distillation), `--prune`
// (magnitude pruning on a cubic schedule, or `--prune-structured`: fewer filters before training),
// `--qat-epochs` (quantization-aware training, kernels baked onto the grid before the export).
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { join } from "../_internal/path.ts";
import { loadModel } from "../io/file_handler.ts";
import { MagnitudePruner } from "../compress/prune.ts";
import { pruneChannels } from "../compress/channels.ts";
import { type LayerQuantization, QuantizationAwareTraining } from "../compress/qat.ts";
import type { DistillOptions } from "../train/fit.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { openTorchvisionModel } from "./trained.ts";
import { toOnnx } from "../export/onnx.ts";
import { quantizeOnnxWeights } from "../export/qdq.ts";
import { writeFileAtomic } from "../io/_atomic.ts";

/** The activation ranges QAT observed, by trained model, for its `model.int8.onnx`. */
const observedRanges = new WeakMap<LayersModel, LayerQuantization[]>();

/** What the run passes to `fit` and calls after it. */
export interface RunCompression {
  distill?: DistillOptions;
  onEpochBegin(epoch: number): void;
  onBatchEnd(epoch: number, step: number): void;
  /** After training: the final masks (also over restored best weights); frees the teacher. */
  finish(): void;
}

/** With `--prune-structured`: the model rebuilt with `prune` of each convolution's filters. */
export async function structuredModel(
  model: LayersModel,
  config: TrainConfig,
  log: (line: string) => void,
): Promise<LayersModel> {
  if (!config.pruneStructured || config.prune === 0) return model;
  const before = model.countParams();
  const { model: smaller, pruned } = await pruneChannels(model, { ratio: config.prune });
  model.dispose();
  log(
    `prune: ${Object.keys(pruned).length} convolutions rebuilt with ${
      Math.round((1 - config.prune) * 100)
    }% of their filters (${before} -> ${smaller.countParams()} parameters)`,
  );
  return smaller;
}

async function loadTeacher(source: string): Promise<LayersModel> {
  if (source.startsWith("torchvision:")) return (await openTorchvisionModel(source)).model;
  let dir = source.replace(/\/model\.json$/, "");
  try {
    if ((await Deno.stat(join(dir, "model", "model.json"))).isFile) dir = join(dir, "model");
  } catch { /* a model folder */ }
  return await loadModel(dir);
}

/** The teacher and pruning of a run, from its config. */
export async function runCompression(
  config: TrainConfig,
  model: LayersModel,
  numClasses: number,
  log: (line: string) => void,
): Promise<RunCompression> {
  let teacher: LayersModel | undefined;
  if (config.teacher !== null) {
    teacher = await loadTeacher(config.teacher);
    const classes = teacher.outputs[0].shape.at(-1);
    if (classes !== numClasses) {
      teacher.dispose();
      throw new ConfigError(
        `teacher ${config.teacher} has ${classes} classes, the dataset ${numClasses}`,
      );
    }
    log(
      `distill: teacher ${config.teacher} (${teacher.countParams()} parameters), T ${config.distillT}, α ${config.distillAlpha}`,
    );
  }
  const pruner = config.prune > 0 && !config.pruneStructured
    ? new MagnitudePruner(model, { sparsity: config.prune, epochs: config.epochs })
    : undefined;
  if (pruner) log(`prune: magnitude, to ${config.prune} sparsity on a cubic schedule`);
  const hooks = pruner?.callbacks();
  let qat: QuantizationAwareTraining | undefined;
  if (config.qatEpochs > 0) {
    const weights = config.quantize === "uint8" ? "tensor" : "channel";
    qat = new QuantizationAwareTraining(model, {
      epochs: config.epochs,
      lastEpochs: Math.min(config.qatEpochs, config.epochs),
      weights,
    });
    log(
      `qat: fake-quantized kernels (per ${weights}) and activations in the last ${
        Math.min(config.qatEpochs, config.epochs)
      } epochs`,
    );
  }
  const qatHooks = qat?.callbacks();
  return {
    ...(teacher
      ? { distill: { teacher, temperature: config.distillT, alpha: config.distillAlpha } }
      : {}),
    onEpochBegin: (epoch) => {
      hooks?.onEpochBegin(epoch);
      qatHooks?.onEpochBegin(epoch);
    },
    onBatchEnd: (epoch, step) => {
      hooks?.onBatchEnd(epoch, step);
      qatHooks?.onBatchEnd(epoch, step);
    },
    finish() {
      qat?.bake();
      if (qat) observedRanges.set(model, qat.ranges());
      qat?.dispose();
      pruner?.finish(); // after baking: pruned weights exactly zero again
      pruner?.dispose();
      teacher?.dispose();
    },
  };
}

/**
 * After QAT: `model.int8.onnx`, the ONNX export with int8 QDQ weights (per-channel scales) and,
 * when the run observed them, uint8 QDQ activations (each Conv/Gemm input at its QAT range).
 */
export async function writeQdqOnnx(
  model: LayersModel,
  path: string,
  metadata: Record<string, string>,
): Promise<void> {
  const activations = observedRanges.get(model);
  await writeFileAtomic(
    path,
    quantizeOnnxWeights(toOnnx(model, { metadata }), { activations }).bytes,
  );
}
