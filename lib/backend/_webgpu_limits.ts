// Internal: the device a WebGPU backend asks for, in Deno (webgpu.ts) and in a page (lib/web/):
// features tfjs can use and limits raised to the adapter's (our batch-norm and convolution
// kernels bind up to 10 storage buffers, where the default is 8).

/** Features tfjs-backend-webgpu can use; each is requested only if the adapter has it. */
export const WEBGPU_WANTED_FEATURES: readonly string[] = ["timestamp-query", "bgra8unorm-storage"];

/** Limits raised from the WebGPU defaults to whatever the adapter supports. */
export const WEBGPU_RAISED_LIMITS: readonly string[] = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
];
