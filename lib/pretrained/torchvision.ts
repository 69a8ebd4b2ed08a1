/**
 * torchvision's ImageNet classifiers in TF.js: `loadTorchvision("resnet18", weights)` builds the
 * zoo's architecture with torchvision's layer names and fills it from a `torch.save` state dict or
 * a `.safetensors` file. `torchvisionWeights` fetches torchvision's own files into `data/weights/`
 * with the checked, resumable download (the sha256 prefix in the file name, as torch.hub checks).
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { basename, join } from "../_internal/path.ts";
import { pathExists } from "../_internal/fs.ts";
import { type DownloadOptions, downloadResource } from "../datasets/download.ts";
import { CheckpointError, readStateDict, type StateDict } from "./checkpoint/mod.ts";
import { fetchCheckpoint } from "./_fetch.ts";
import {
  type LoadTorchvisionOptions,
  torchvisionFromStateDict,
  torchvisionModel,
} from "./torchvision_models.ts";

export * from "./torchvision_models.ts";

/** Options for {@linkcode torchvisionWeights}. */
export interface TorchvisionWeightsOptions extends DownloadOptions {
  /** Where weights are kept. Default: `data/weights`. */
  dir?: string;
  /** Base URL to fetch from instead of `https://download.pytorch.org/models/`. */
  mirror?: string;
}

/**
 * The local path of torchvision's weights for `name`, downloaded into `data/weights/` on first
 * use and checked against the sha256 prefix in the file name. A refused network permission is a
 * one-line error naming the `--allow-net` host to add.
 *
 * @example
 * ```ts ignore
 * import { torchvisionWeights } from "./torchvision.ts";
 * const path = await torchvisionWeights("resnet18"); // data/weights/resnet18-f37072fd.pth
 * ```
 */
export async function torchvisionWeights(
  name: string,
  options: TorchvisionWeightsOptions = {},
): Promise<string> {
  const spec = torchvisionModel(name);
  const dest = join(options.dir ?? join("data", "weights"), spec.file);
  if (await pathExists(dest)) return dest;
  const url = options.mirror === undefined
    ? spec.url
    : options.mirror.replace(/\/*$/, "/") + spec.file;
  try {
    await downloadResource([url], dest, `sha256:${hashPrefix(spec.file)}`, options);
  } catch (error) {
    if (!(error instanceof Error) || /checksum mismatch/.test(error.message)) throw error;
    error.message += `; without network, copy ${spec.file} from a machine that has it to ${dest}`;
    throw error;
  }
  return dest;
}

/**
 * The sha256 prefix in a torch.hub file name (`resnet18-f37072fd.pth` → `f37072fd`), or
 * undefined when the name carries none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPrefix } from "./torchvision.ts";
 * assert.equal(hashPrefix("efficientnet_b0_rwightman-3dd342df.pth"), "3dd342df");
 * assert.equal(hashPrefix("my_model.pth"), undefined);
 * ```
 */
export function hashPrefix(file: string): string | undefined {
  // torch.hub's HASH_REGEX: the first "-<hex>." in the name.
  return /-([a-f0-9]{6,})\./.exec(basename(file))?.[1];
}

/**
 * Where `loadTorchvision` takes weights from: a path, an http(s) URL, the file's bytes, or a state
 * dict already read.
 */
export type WeightsSource = string | URL | Uint8Array | StateDict;

/** Reads a weights file, URL or bytes; the second value names it for messages. */
async function readWeights(
  weights: string | URL | Uint8Array,
  fetcher: typeof fetch = fetch,
): Promise<[Uint8Array, string]> {
  if (weights instanceof Uint8Array) return [weights, "weights"];
  const text = String(weights);
  if (/^https?:\/\//.test(text)) {
    return await fetchCheckpoint(
      new URL(text),
      fetcher,
      (error) =>
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
          ? "network access refused by Deno's permissions; allow it with " +
            `--allow-net=${new URL(text).host}`
          : error instanceof Error
          ? error.message
          : String(error),
    );
  }
  try {
    return [await Deno.readFile(text), text];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheckpointError(`${text}: not found`);
    throw error;
  }
}

/**
 * Reads the state dict behind a weights path, URL or bytes, with the name errors should give.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTorchWeights } from "./torchvision.ts";
 * await assert.rejects(readTorchWeights("missing.pth"), /missing\.pth: not found/);
 * ```
 */
export async function readTorchWeights(
  weights: WeightsSource,
  fetcher?: typeof fetch,
): Promise<{ stateDict: StateDict; source: string }> {
  if (weights instanceof Map) return { stateDict: weights, source: "state dict" };
  const [bytes, source] = await readWeights(weights, fetcher);
  return { stateDict: readStateDict(bytes, { source }), source };
}

/**
 * Builds torchvision's `name` (`resnet18`, `resnet50`, `mobilenet_v2`, `mobilenet_v3_large`,
 * `efficientnet_b0`) and loads PyTorch weights into it: a `torch.save` state dict (or a whole
 * checkpoint holding one) or a `.safetensors` file, from a path, a URL or bytes. The model takes
 * NHWC float32 images normalised the torchvision way (see {@linkcode TORCHVISION_MODELS}'
 * `preprocessing`) and returns 1000 ImageNet logits, or `numClasses` logits from a new seeded
 * classifier. A missing, extra or wrongly shaped tensor throws an error naming the parameter.
 *
 * @example
 * ```ts ignore
 * import { loadTorchvision, torchvisionWeights } from "../../mod.ts";
 * const model = await loadTorchvision("resnet18", await torchvisionWeights("resnet18"));
 * ```
 */
export async function loadTorchvision(
  name: string,
  weights: WeightsSource,
  options: LoadTorchvisionOptions = {},
): Promise<tfl.LayersModel> {
  const { stateDict, source } = await readTorchWeights(weights, options.fetch);
  return torchvisionFromStateDict(name, stateDict, source, options);
}
