// Our WebGPU device factory against a fake adapter that advertises bgra8unorm-storage and
// timestamp-query: the descriptor must be one Deno accepts and use the adapter's limits.
import assert from "node:assert/strict";
import {
  adapterRequestOptions,
  BackendUnavailableError,
  guardDeviceLoss,
  isSoftwareAdapter,
  parseAdapterChoice,
  releaseWebGpuDevice,
  requestWebGpuDevice,
  WebGpuDeviceLostError,
} from "../../mod.ts";
import { FAKE_LIMITS, fakeGpu } from "./_fake_gpu.ts";

Deno.test("the device descriptor has plain-string features the adapter has, and its limits", async () => {
  const gpu = fakeGpu();
  const handle = await requestWebGpuDevice({ gpu });
  assert.equal(gpu.descriptors.length, 1);
  const [descriptor] = gpu.descriptors;
  const features = [...(descriptor.requiredFeatures ?? [])];
  assert.deepEqual(features, ["timestamp-query", "bgra8unorm-storage"]);
  assert.ok(features.every((feature) => typeof feature === "string"));
  const limits = descriptor.requiredLimits as Record<string, number>;
  assert.equal(limits.maxStorageBufferBindingSize, FAKE_LIMITS.maxStorageBufferBindingSize);
  assert.equal(limits.maxBufferSize, FAKE_LIMITS.maxBufferSize);
  assert.equal(limits.maxComputeWorkgroupStorageSize, FAKE_LIMITS.maxComputeWorkgroupStorageSize);
  assert.equal(limits.maxTextureDimension2D, undefined, "only compute limits are raised");
  assert.deepEqual(handle.features, features);
});

Deno.test("features the adapter lacks are not requested", async () => {
  const gpu = fakeGpu({ features: ["timestamp-query"] });
  await requestWebGpuDevice({ gpu });
  assert.deepEqual([...(gpu.descriptors[0].requiredFeatures ?? [])], ["timestamp-query"]);
});

Deno.test("adapter info is read before the device is requested", async () => {
  // The fake adapter throws on `info` after requestDevice, as some Deno versions do.
  const handle = await requestWebGpuDevice({ gpu: fakeGpu() });
  assert.equal(handle.adapterInfo.description, "NVIDIA H100");
  assert.equal(handle.adapterInfo.architecture, "hopper");
  assert.equal(isSoftwareAdapter(handle.adapterInfo), false);
});

Deno.test("no adapter is a BackendUnavailableError that says so", async () => {
  await assert.rejects(
    () => requestWebGpuDevice({ gpu: fakeGpu({ noAdapter: true }) }),
    (error: unknown) =>
      error instanceof BackendUnavailableError && /found no adapter/.test(error.message),
  );
});

Deno.test("a lost device makes every backend call throw WebGpuDeviceLostError", async () => {
  const gpu = fakeGpu();
  const handle = await requestWebGpuDevice({ gpu });
  const backend = { runWebGPUProgram: () => "ran", read: () => Promise.resolve(1) };
  guardDeviceLoss(backend, handle);
  assert.equal(backend.runWebGPUProgram(), "ran");
  const originalError = console.error;
  const printed: string[] = [];
  console.error = (line: string) => printed.push(line);
  try {
    gpu.loseDevice("unknown", "GPU hang detected");
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    console.error = originalError;
  }
  assert.throws(() => backend.runWebGPUProgram(), WebGpuDeviceLostError);
  assert.throws(() => backend.read(), /GPU hang detected/);
  assert.equal(printed.length, 1);
});

Deno.test("a device we release ourselves is not reported as lost", async () => {
  const gpu = fakeGpu();
  const handle = await requestWebGpuDevice({ gpu });
  releaseWebGpuDevice(handle);
  gpu.loseDevice("destroyed", "");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(handle.lostError, null);
});

Deno.test("a device destroyed behind our back is a loss (how tests simulate one)", async () => {
  const gpu = fakeGpu();
  const handle = await requestWebGpuDevice({ gpu });
  const originalError = console.error;
  console.error = () => {};
  try {
    gpu.loseDevice("destroyed", "");
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    console.error = originalError;
  }
  assert.ok(handle.lostError instanceof WebGpuDeviceLostError);
});

Deno.test("--adapter values map to requestAdapter options; others are a one-line error", async () => {
  for (const choice of ["high-performance", "low-power", "software"] as const) {
    const gpu = fakeGpu();
    const requests: (GPURequestAdapterOptions | undefined)[] = [];
    const recording = {
      requestAdapter: (options?: GPURequestAdapterOptions) => {
        requests.push(options);
        return gpu.requestAdapter(options);
      },
    };
    await requestWebGpuDevice({ gpu: recording, adapter: choice });
    assert.deepEqual(requests, [adapterRequestOptions(choice)]);
  }
  assert.deepEqual(adapterRequestOptions("software"), { forceFallbackAdapter: true });
  assert.throws(
    () => parseAdapterChoice("gpu0"),
    (error: unknown) =>
      error instanceof RangeError && !error.message.includes("\n") &&
      error.message === "unknown adapter 'gpu0': expected high-performance, low-power or software",
  );
});

Deno.test("software adapters are recognised by name or by the fallback flag", () => {
  const base = { vendor: "", architecture: "", device: "", isFallbackAdapter: false };
  for (
    const description of ["llvmpipe (LLVM 15.0.6, 256 bits)", "Lavapipe", "SwiftShader Device"]
  ) {
    assert.ok(isSoftwareAdapter({ ...base, description }), description);
  }
  assert.ok(isSoftwareAdapter({ ...base, description: "", isFallbackAdapter: true }));
  assert.equal(isSoftwareAdapter({ ...base, description: "NVIDIA GeForce RTX 4090" }), false);
  assert.equal(isSoftwareAdapter({ ...base, description: "Apple M2 Max" }), false);
});
