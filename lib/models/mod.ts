/**
 * The model zoo: architectures created by name from a registry, logits out.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend/mod.ts";
 * import assert from "node:assert/strict";
 * import { createModel } from "./mod.ts";
 * await useBackend("wasm");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./registry.ts";
export * from "./lenet.ts";
export * from "./cnn.ts";
export * from "./resnet.ts";
export * from "./mobilenetv2.ts";
export * from "./mobilenetv3.ts";
export * from "./efficientnet.ts";
export * from "./vgg.ts";
export * from "./transfer.ts";
