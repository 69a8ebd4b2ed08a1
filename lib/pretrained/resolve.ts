/**
 * What `--pretrained` names when it names PyTorch weights: `torchvision:<name>` (torchvision's own
 * file, fetched once into `data/weights/`), an http(s) URL of a `.pth`/`.pt`/`.safetensors` file
 * (checked against the sha256 prefix in its name when it has one, as torch.hub does), or a local
 * file. Also recognises which torchvision architecture a state dict holds.
 *
 * @module
 */
import { basename, join } from "../_internal/path.ts";
import { pathExists } from "../_internal/fs.ts";
import { type DownloadOptions, downloadResource } from "../datasets/download.ts";
import type { StateDict } from "./checkpoint/mod.ts";
import { hashPrefix, torchvisionModel, torchvisionWeights } from "./torchvision.ts";

const TORCH_FILE = /\.(pth|pt|bin|ckpt|safetensors)$/i;

/**
 * Whether a `--pretrained` value names PyTorch weights (rather than a TF.js model).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTorchWeights } from "./resolve.ts";
 * assert.ok(isTorchWeights("torchvision:resnet18"));
 * assert.ok(isTorchWeights("checkpoints/net.safetensors"));
 * assert.ok(!isTorchWeights("runs/x/model/model.json"));
 * ```
 */
export function isTorchWeights(source: string): boolean {
  return source.startsWith("torchvision:") || TORCH_FILE.test(source.replace(/[?#].*$/, ""));
}

/** Options for {@linkcode resolveTorchWeights}. */
export interface ResolveTorchWeightsOptions extends DownloadOptions {
  /** Where downloaded weights are kept. Default: `data/weights`. */
  dir?: string;
}

/** PyTorch weights ready to read, with the architecture the name implies (if any). */
export interface ResolvedTorchWeights {
  /** A local path, or the URL itself for a URL without a hash to check. */
  path: string;
  /** torchvision's architecture name, for `torchvision:<name>`. */
  torchvision?: string;
}

/**
 * Makes a `--pretrained` value local: `torchvision:<name>` and hashed URLs are downloaded into
 * `data/weights/` (once; later runs reuse the file), local paths are returned as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTorchWeights } from "./resolve.ts";
 * const local = await resolveTorchWeights("weights/mine.pth");
 * assert.equal(local.path, "weights/mine.pth");
 * ```
 */
export async function resolveTorchWeights(
  source: string,
  options: ResolveTorchWeightsOptions = {},
): Promise<ResolvedTorchWeights> {
  const dir = options.dir ?? join("data", "weights");
  if (source.startsWith("torchvision:")) {
    const name = torchvisionModel(source.slice("torchvision:".length)).name;
    return { path: await torchvisionWeights(name, { ...options, dir }), torchvision: name };
  }
  if (!/^https?:\/\//.test(source)) return { path: source };
  const file = basename(new URL(source).pathname);
  const prefix = hashPrefix(file);
  if (prefix === undefined) return { path: source }; // read straight from the URL, unchecked
  const dest = join(dir, file);
  if (!await pathExists(dest)) await downloadResource([source], dest, `sha256:${prefix}`, options);
  return { path: dest };
}

// Keys only one architecture's state dict has together.
const SIGNATURES: [string, string[]][] = [
  ["resnet50", ["layer4.2.conv3.weight", "layer3.5.conv1.weight"]],
  ["resnet18", ["layer4.1.conv2.weight", "layer1.1.bn2.weight"]],
  ["mobilenet_v2", ["features.18.0.weight", "features.17.conv.3.weight"]],
  ["mobilenet_v3_large", ["features.16.0.weight", "features.15.block.2.fc1.weight"]],
  ["efficientnet_b0", ["features.8.0.weight", "features.7.0.block.3.0.weight"]],
];
const NOT_RESNET18 = ["layer4.0.conv3.weight", "layer3.2.conv1.weight"];

/**
 * The torchvision architecture whose parameter names a state dict has, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectTorchvisionModel } from "./resolve.ts";
 * const t = { dtype: "float32", shape: [1], data: new Float32Array(1) };
 * const keys = ["layer4.1.conv2.weight", "layer1.1.bn2.weight", "fc.weight"];
 * assert.equal(detectTorchvisionModel(new Map(keys.map((k) => [k, t]))), "resnet18");
 * ```
 */
export function detectTorchvisionModel(stateDict: StateDict): string | undefined {
  for (const [name, keys] of SIGNATURES) {
    if (!keys.every((key) => stateDict.has(key))) continue;
    if (name === "resnet18" && NOT_RESNET18.some((key) => stateDict.has(key))) continue;
    return name;
  }
  return undefined;
}
