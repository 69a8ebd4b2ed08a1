/**
 * Deployment formats: ONNX export of any zoo, torchvision-loaded or fine-tuned model, the graph
 * `torch.onnx.export` would write (NCHW `input`, dynamic batch, `logits`), checked by
 * `onnx.checker` and run by ONNX Runtime in the tests, with the preprocessing in its metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { readOnnxModel, toOnnx } from "./mod.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3 })] });
 * assert.deepEqual(readOnnxModel(toOnnx(model)).outputs, [{ name: "logits", dims: ["batch", 3] }]);
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./onnx.ts";
export * from "./onnx_file.ts";
export * from "./metadata.ts";
export * from "./errors.ts";
export * from "./qdq.ts";
