// Internal: DepthwiseConv2dNativeBackpropFilter for the wasm backend (missing in 4.22): our SIMD
// kernel (channel multiplier 1, no dilation: _wasm_simd/depthwise_filter_grad.ts) where it
// applies, else a path composed from the backend's own kernels (XNNPACK's depthwise convolution).
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  getKernel,
} from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { simdDepthwiseFilterGradient } from "../_wasm_simd/depthwise_filter_grad.ts";
import { withScratch } from "./_scratch.ts";

let useSimd = true;

/**
 * Turns the SIMD kernel off (false: every call takes the composed path) or back on: the tests
 * and timings compare the two.
 *
 * @example
 * ```ts
 * import { setDepthwiseFilterGradSimd } from "./depthwise_backprop_filter.ts";
 * setDepthwiseFilterGradSimd(false);
 * setDepthwiseFilterGradSimd(true);
 * ```
 */
export function setDepthwiseFilterGradSimd(enabled: boolean): void {
  useSimd = enabled;
}

/**
 * Floats of dy a composed call may treat as its filter. XNNPACK packs that filter and builds an
 * indirection buffer over it: on MobileNetV2 at 64 px, one call over a batch of 16 raised the heap
 * by 291 MB, and a batch of 32 ran the 4 GiB heap out ("memory access out of bounds"). So the batch
 * goes through in chunks of samples whose dy holds at most this many floats (16 MB; smaller chunks cost more than they save: at 2 MB a
 * batch of 8 took twice as long a step), their partial
 * gradients summed.
 */
const CHUNK_FLOATS = 2 ** 22;

/**
 * dW[a, b, c, q] = Σ_{n,i,j} x[n, i·s + a·d − padTop, …, c] · dy[n, i, j, c·M + q].
 *
 * Every (sample, channel) pair becomes one depthwise channel: input [1, H, W, N·C], filter
 * dy as [Ho, Wo, N·C, M] with dilation = forward stride and stride = forward dilation; the
 * depthwise output [1, kh, kw, N·C·M] is then summed over the batch.
 */
function composedGradient(
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  backend: KernelBackend,
  filterShape: [number, number, number, number],
): TensorInfo {
  const [batch, inHeight, inWidth, channels] = x.shape;
  const multiplier = filterShape[3];
  const { filterHeight, filterWidth, dilationHeight, dilationWidth } = info;
  const neededHeight = (filterHeight - 1) * dilationHeight +
    (info.outHeight - 1) * info.strideHeight + 1;
  const neededWidth = (filterWidth - 1) * dilationWidth + (info.outWidth - 1) * info.strideWidth +
    1;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  return withScratch(backend, (scratch) => {
    const padded = scratch.padOrCrop(
      x,
      top,
      neededHeight - top - inHeight,
      left,
      neededWidth - left - inWidth,
    );
    const hwnc = scratch.run("Transpose", { x: padded }, { perm: [1, 2, 0, 3] });
    const input = scratch.run("Reshape", { x: hwnc }, {
      shape: [1, neededHeight, neededWidth, batch * channels],
    });
    const dyHwn = scratch.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const filter = scratch.run("Reshape", { x: dyHwn }, {
      shape: [info.outHeight, info.outWidth, batch * channels, multiplier],
    });
    const perSample = scratch.run("DepthwiseConv2dNative", { x: input, filter }, {
      strides: [dilationHeight, dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      pad: "valid",
    });
    const split = scratch.run("Reshape", { x: perSample }, {
      shape: [filterHeight, filterWidth, batch, channels * multiplier],
    });
    const summed = scratch.run("Sum", { x: split }, { axis: [2], keepDims: false });
    return scratch.run("Reshape", { x: summed }, { shape: filterShape });
  });
}

const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<"x" | "dy", TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  if (useSimd) {
    const fast = simdDepthwiseFilterGradient(backend, x, dy, info);
    if (fast !== undefined) return fast;
  }
  const kernelBackend = backend as KernelBackend;
  const batch = x.shape[0];
  const dyPerSample = dy.shape.slice(1).reduce((a, b) => a * b, 1);
  const chunk = Math.max(1, Math.floor(CHUNK_FLOATS / dyPerSample));
  if (chunk >= batch) return composedGradient(x, dy, info, kernelBackend, filterShape);
  const slice = (t: TensorInfo, start: number, size: number) =>
    getKernel("Slice", "wasm")!.kernelFunc({
      inputs: { x: t },
      backend: kernelBackend,
      attrs: { begin: [start, 0, 0, 0], size: [size, ...t.shape.slice(1)] },
    }) as TensorInfo;
  let total: TensorInfo | undefined;
  for (let start = 0; start < batch; start += chunk) {
    const size = Math.min(chunk, batch - start);
    const xs = slice(x, start, size);
    const dys = slice(dy, start, size);
    try {
      const part = composedGradient(
        xs,
        dys,
        { ...info, batchSize: size },
        kernelBackend,
        filterShape,
      );
      if (total === undefined) {
        total = part;
      } else {
        const sum = getKernel("Add", "wasm")!.kernelFunc({
          inputs: { a: total, b: part },
          backend: kernelBackend,
          attrs: {},
        }) as TensorInfo;
        kernelBackend.disposeData(total.dataId);
        kernelBackend.disposeData(part.dataId);
        total = sum;
      }
    } finally {
      kernelBackend.disposeData(xs.dataId);
      kernelBackend.disposeData(dys.dataId);
    }
  }
  return total!;
};

/** Kernel registration for `DepthwiseConv2dNativeBackpropFilter` on `wasm`. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropFilter,
};
