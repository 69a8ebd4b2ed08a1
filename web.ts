/**
 * denovision in a web page: the parts of the toolkit that need no Deno API, for a bundler or a
 * plain `<script type="module">`. Models and the registry, transforms, the JPEG/PNG decoders,
 * in-memory datasets and loaders, `fit` / `evaluate` / `predictImage`, Grad-CAM, PyTorch weights
 * from bytes or a URL, ONNX export to bytes, and our WebGPU and wasm training kernels, on the
 * browser's `navigator.gpu` through {@linkcode selectWebBackend}. Files, workers, servers and the
 * CLI stay in `mod.ts`; a test walks this module's imports to keep it so.
 *
 * @example
 * ```ts ignore
 * import { createModel, selectWebBackend, shapes, trainInMemory } from "@denovision/denovision/web";
 * await selectWebBackend("auto");
 * const { history } = await trainInMemory(shapes({ size: 512 }), shapes({ train: false, size: 128 }), {
 *   model: "cifar-cnn",
 *   epochs: 2,
 * });
 * console.log(history.at(-1));
 * ```
 *
 * @module
 */
export * from "./lib/web/backend.ts";
export * from "./lib/web/folder.ts";
export * from "./lib/web/predict.ts";
export * from "./lib/web/torchvision.ts";
export * from "./lib/web/train.ts";
export * from "./lib/backend/errors.ts";
export * from "./lib/backend/webgpu_kernels.ts";
export * from "./lib/backend/wasm_kernels.ts";
export * from "./lib/models/mod.ts";
export * from "./lib/transforms/mod.ts";
export * from "./lib/decode/decode.ts";
export * from "./lib/decode/errors.ts";
export * from "./lib/decode/sniff.ts";
export * from "./lib/decode/exif.ts";
export * from "./lib/datasets/types.ts";
export * from "./lib/datasets/in_memory.ts";
export * from "./lib/datasets/subset.ts";
export * from "./lib/datasets/shapes.ts";
export * from "./lib/loader/batch_loader.ts";
export * from "./lib/loader/memory_loader.ts";
export * from "./lib/loader/sampler.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/train/fit.ts";
export * from "./lib/train/losses.ts";
export * from "./lib/train/optimizers.ts";
export * from "./lib/train/schedules.ts";
export * from "./lib/train/mix.ts";
export * from "./lib/explain/gradcam.ts";
export * from "./lib/pretrained/checkpoint/mod.ts";
export * from "./lib/pretrained/state_dict.ts";
export * from "./lib/pretrained/torchvision_models.ts";
export * from "./lib/pretrained/imagenet_classes.ts";
export * from "./lib/export/onnx.ts";
export * from "./lib/export/metadata.ts";
export * from "./lib/export/errors.ts";
export type { LayersModel } from "@tensorflow/tfjs-layers";
export type { Tensor, Tensor4D } from "@tensorflow/tfjs-core";
