/**
 * `exportOnnx`: {@linkcode toOnnx}'s bytes written to a file, atomically. Kept apart from onnx.ts
 * so that the exporter itself runs in a web page (`./web`), where the bytes become a download.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { dirname } from "../_internal/path.ts";
import { writeFileAtomic } from "../io/_atomic.ts";
import { type OnnxExportOptions, toOnnx } from "./onnx.ts";
import { OnnxExportError } from "./errors.ts";

/**
 * Writes {@linkcode toOnnx}'s protobuf of `model` to `path` (atomically: a reader never sees half
 * a file). A model it cannot export throws an {@linkcode OnnxExportError} that also names `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { exportOnnx } from "./onnx_file.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
 * const dir = await Deno.makeTempDir({ dir: "data" }).catch(() => Deno.makeTempDir());
 * await exportOnnx(model, `${dir}/model.onnx`);
 * assert.ok((await Deno.stat(`${dir}/model.onnx`)).size > 0);
 * await Deno.remove(dir, { recursive: true });
 * model.dispose();
 * ```
 */
export async function exportOnnx(
  model: tfl.LayersModel,
  path: string,
  options: OnnxExportOptions = {},
): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = toOnnx(model, options);
  } catch (error) {
    if (error instanceof OnnxExportError) throw new OnnxExportError(`${path}: ${error.message}`);
    throw error;
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, bytes);
}
