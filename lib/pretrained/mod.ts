/**
 * Pretrained weights from PyTorch: `torch.save` checkpoints and `.safetensors` files read in
 * TypeScript (nothing in them is executed), state dicts mapped onto the zoo by name or order, and
 * torchvision's ImageNet classifiers by name with their 1000 class names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IMAGENET_CLASSES, torchvisionModel } from "./mod.ts";
 * assert.equal(torchvisionModel("resnet18").preprocessing.crop, 224);
 * assert.equal(IMAGENET_CLASSES[0], "tench");
 * ```
 *
 * @module
 */
export * from "./checkpoint/mod.ts";
export * from "./state_dict.ts";
export * from "./torchvision.ts";
export * from "./imagenet_classes.ts";
export * from "./resolve.ts";
export * from "./to_torch.ts";
