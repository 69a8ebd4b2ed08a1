/**
 * torchvision's weights in a web page: `loadTorchvision` from the bytes of a `.pth` or
 * `.safetensors` file (a dropped file) or from a URL, fetched by the browser.
 *
 * @module
 */
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { readStateDict, type StateDict } from "../pretrained/checkpoint/mod.ts";
import { fetchCheckpoint } from "../pretrained/_fetch.ts";
import {
  type LoadTorchvisionOptions,
  torchvisionFromStateDict,
} from "../pretrained/torchvision_models.ts";

/** Bytes of a checkpoint, a URL to fetch it from (relative to the page), or a state dict. */
export type WebWeightsSource = Uint8Array | URL | string | StateDict;

/**
 * Builds torchvision's `name` (`resnet18`, `mobilenet_v2`, …) and loads PyTorch weights into it,
 * from bytes, a URL or a state dict: the page's form of the Deno `loadTorchvision`, with the same
 * options and errors (each naming the file and the parameter).
 *
 * @example
 * ```ts ignore
 * import { loadTorchvision } from "@denovision/denovision/web";
 * const file = (document.querySelector("input[type=file]") as HTMLInputElement).files![0];
 * const model = await loadTorchvision("resnet18", new Uint8Array(await file.arrayBuffer()), {
 *   numClasses: 2,
 * });
 * ```
 */
export async function loadTorchvision(
  name: string,
  weights: WebWeightsSource,
  options: LoadTorchvisionOptions & { source?: string } = {},
): Promise<LayersModel> {
  if (weights instanceof Map) {
    return torchvisionFromStateDict(name, weights, options.source ?? "state dict", options);
  }
  let bytes: Uint8Array;
  let source: string;
  if (weights instanceof Uint8Array) {
    [bytes, source] = [weights, options.source ?? "weights"];
  } else {
    const base = globalThis.location?.href;
    const url = weights instanceof URL ? weights : new URL(weights, base);
    [bytes, source] = await fetchCheckpoint(
      url,
      options.fetch ?? fetch,
      (error) =>
        `${error instanceof Error ? error.message : error} (a server must allow this page to ` +
        "fetch it: same origin, or CORS)",
    );
  }
  return torchvisionFromStateDict(name, readStateDict(bytes, { source }), source, options);
}
