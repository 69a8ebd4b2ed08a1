// Internal: the model `--pretrained` names, built before the data is open, and what it is: the
// architecture actually built and where its weights came from (config.json's `model` and
// `weights`). `--model` only names the architecture when nothing else does (no `--pretrained`,
// or PyTorch weights of a zoo model that is not a torchvision one); a torchvision state dict or a
// TF.js model decides its own, so a ResNet-18 `.pth` on a photo folder is recorded as `resnet18`,
// not as the folder's default `mobilenetv2`.
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { join } from "../_internal/path.ts";
import type { WeightsOrigin } from "../export/metadata.ts";
import { loadModel } from "../io/file_handler.ts";
import { createModel } from "../models/registry.ts";
import "../models/mod.ts";
import type { StateDict } from "../pretrained/checkpoint/mod.ts";
import { loadStateDict } from "../pretrained/state_dict.ts";
import { loadTorchvision, readTorchWeights, torchvisionModel } from "../pretrained/torchvision.ts";
import {
  detectTorchvisionModel,
  isTorchWeights,
  resolveTorchWeights,
} from "../pretrained/resolve.ts";
import type { TrainConfig } from "./config.ts";
import { INCEPTION_NORMALIZATION, type Normalization } from "./data.ts";

/** The model `--pretrained` names, before its new head; `model` is null without `--pretrained`. */
export interface PretrainedModel {
  model: LayersModel | null;
  /** The architecture built (or to build) and where its weights come from. */
  origin: WeightsOrigin;
  /** The input side the weights fix (a TF.js model's), if any. */
  inputSide?: number;
  /** The normalisation the weights expect, when not the dataset's own. */
  normalization?: Normalization;
  /** A state dict for a zoo model that can only be built once the data's shape is known. */
  pending?: { stateDict: StateDict; source: string };
}

/**
 * The config with the architecture built and the weights' origin in it (what config.json
 * records); a resumed run builds the same model from it, as `pretrained` still decides.
 */
export function withOrigin(config: TrainConfig, origin: WeightsOrigin): TrainConfig {
  return { ...config, model: origin.architecture, weights: origin };
}

/** Builds (or prepares, see `pending`) the model `config.pretrained` names. */
export async function buildModel(
  config: TrainConfig,
  log: (line: string) => void,
  weightsDir?: string,
): Promise<PretrainedModel> {
  if (config.pretrained === null) {
    return { model: null, origin: { architecture: config.model, source: "none", format: "none" } };
  }
  if (isTorchWeights(config.pretrained)) return await torchModel(config, log, weightsDir);
  let source = config.pretrained;
  try {
    // A run directory of ours: its exported model.
    if ((await Deno.stat(join(source, "model", "model.json"))).isFile) {
      source = join(source, "model");
    }
  } catch { /* not a run directory */ }
  const model = await loadModel(source);
  const inputShape = model.inputs[0].shape;
  const side = inputShape[1];
  log(
    `pretrained: ${config.pretrained} (${model.layers.length} layers, input ${
      inputShape.slice(1).join("×")
    })`,
  );
  return {
    model,
    origin: {
      architecture: await tfjsArchitecture(model, source),
      source: config.pretrained,
      format: "tfjs",
    },
    inputSide: typeof side === "number" ? side : undefined,
    normalization: INCEPTION_NORMALIZATION,
  };
}

/**
 * A TF.js model's architecture: the one its metadata records (our exports), its run's
 * config.json `model` (a run's model/ folder from before the metadata), else the model's name.
 */
async function tfjsArchitecture(model: LayersModel, source: string): Promise<string> {
  const metadata = model.getUserDefinedMetadata() as { architecture?: unknown } | undefined;
  if (typeof metadata?.architecture === "string") return metadata.architecture;
  const folder = source.replace(/\/model\.json$/, "").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(folder) && folder.endsWith("model")) {
    const config = join(folder, "..", "config.json");
    try {
      const { model: name } = JSON.parse(await Deno.readTextFile(config));
      if (typeof name === "string" && name !== "") return name;
    } catch { /* not a run's model folder */ }
  }
  return model.name;
}

/**
 * PyTorch weights: a torchvision architecture (named, or recognised from the keys) is built at
 * the run's image size with ImageNet normalisation; other zoo models (the seeds' own) are built
 * once the data is open, from `--model`.
 */
async function torchModel(
  config: TrainConfig,
  log: (line: string) => void,
  weightsDir?: string,
): Promise<PretrainedModel> {
  const resolved = await resolveTorchWeights(config.pretrained!, { dir: weightsDir });
  const { stateDict, source } = await readTorchWeights(resolved.path);
  const name = resolved.torchvision ?? detectTorchvisionModel(stateDict);
  if (name === undefined) {
    log(`pretrained: ${config.pretrained} (PyTorch weights for ${config.model})`);
    return {
      model: null,
      origin: { architecture: config.model, source: config.pretrained!, format: "pytorch" },
      pending: { stateDict, source },
    };
  }
  const spec = torchvisionModel(name);
  const model = await loadTorchvision(name, stateDict, {
    inputSize: config.imgSize,
  });
  log(
    `pretrained: torchvision ${name} from ${resolved.path} (${model.layers.length} layers, ` +
      `input ${config.imgSize}×${config.imgSize}×3, ImageNet normalisation)`,
  );
  const { mean, std } = spec.preprocessing;
  return {
    model,
    origin: {
      architecture: spec.model,
      source: config.pretrained!,
      format: "pytorch",
      torchvision: spec.name,
    },
    normalization: { mean, std },
  };
}

/** A zoo model built for the data, with the PyTorch weights of `--pretrained` in it. */
export function pendingModel(
  config: TrainConfig,
  pending: NonNullable<PretrainedModel["pending"]>,
  inputShape: [number, number, number],
): LayersModel {
  const { stateDict, source } = pending;
  // The checkpoint's own head size: its last 2D weight is the classifier's (out, in).
  const head = [...stateDict.values()].filter((t) => t.shape.length === 2).at(-1)?.shape[0];
  const model = createModel(config.model, {
    inputShape,
    numClasses: head ?? 1000,
    seed: config.seed,
  });
  try {
    loadStateDict(model, stateDict, { source });
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
