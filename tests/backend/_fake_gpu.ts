// Internal test helper: a fake WebGPU entry point whose adapter records what it was asked for.
import type { WebGpuAdapterLike, WebGpuLike } from "../../mod.ts";

export interface FakeGpuOptions {
  features?: string[];
  description?: string;
  isFallbackAdapter?: boolean;
  /** No adapter at all, as on a machine without a GPU driver. */
  noAdapter?: boolean;
}

export interface FakeGpu extends WebGpuLike {
  descriptors: GPUDeviceDescriptor[];
  /** Resolves the device's `lost` promise, as a driver reset would. */
  loseDevice(reason: string, message: string): void;
}

export const FAKE_LIMITS = {
  maxBufferSize: 4294967296,
  maxStorageBufferBindingSize: 2147483648,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 65536,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupSizeZ: 64,
  maxTextureDimension2D: 16384,
};

export function fakeGpu(options: FakeGpuOptions = {}): FakeGpu {
  const descriptors: GPUDeviceDescriptor[] = [];
  let deviceExists = false;
  let lose: (info: { reason: string; message: string }) => void = () => {};
  const adapter: WebGpuAdapterLike = {
    features: new Set(
      options.features ?? ["timestamp-query", "bgra8unorm-storage", "float32-filterable"],
    ),
    limits: FAKE_LIMITS,
    // Like some Deno versions: the adapter's info is unreadable once a device exists.
    get info() {
      if (deviceExists) throw new TypeError("adapter is invalid after requestDevice");
      return {
        vendor: "nvidia",
        architecture: "hopper",
        device: "0x2330",
        description: options.description ?? "NVIDIA H100",
        isFallbackAdapter: options.isFallbackAdapter ?? false,
      };
    },
    requestDevice(descriptor: GPUDeviceDescriptor) {
      for (const feature of descriptor.requiredFeatures ?? []) {
        // What Deno's WebIDL conversion does with tfjs's ['bgra8unorm-storage'].
        if (typeof feature !== "string") throw new TypeError("feature is not a string");
      }
      descriptors.push(descriptor);
      deviceExists = true;
      const lost = new Promise<{ reason: string; message: string }>((resolve) => lose = resolve);
      return Promise.resolve({ lost, destroy() {} } as unknown as GPUDevice);
    },
  };
  return {
    descriptors,
    requestAdapter: () => Promise.resolve(options.noAdapter ? null : adapter),
    loseDevice: (reason, message) => lose({ reason, message }),
  };
}
