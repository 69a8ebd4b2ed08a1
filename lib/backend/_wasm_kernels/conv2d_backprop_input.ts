// Internal: Conv2DBackpropInput for the wasm backend. tfjs-backend-wasm 4.22 has one, but it
// was the slowest kernel of a LeNet training step (18.7 ms of 44 on our 2-core machine); this
// one runs stride-1 layers on our WebAssembly SIMD kernel (../_wasm_simd/conv2d_input_grad.ts)
// and the others as one forward convolution per phase, on our SIMD forward kernel (every thread)
// where it runs, else XNNPACK.
import { backend_util, Conv2DBackpropInput } from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { simdInputGradient } from "../_wasm_simd/conv2d_input_grad.ts";
import { winogradInputGradient } from "../_wasm_simd/winograd.ts";
import { simdConvForward } from "../_wasm_simd/conv2d_forward.ts";
import { type WasmScratch, withScratch } from "./_scratch.ts";

/** One phase of a strided input gradient: the rows and columns of dx it covers, and its part. */
interface Phase {
  rowPhase: number;
  colPhase: number;
  firstRow: number;
  firstCol: number;
  part: TensorInfo;
}

/**
 * The input gradient of a strided convolution by phases: the rows u of dx with
 * (u + padTop) mod stride = p only receive the filter taps p, p + stride, …, so each phase of rows
 * and columns is a stride-1 correlation of dy itself with that sub-filter, reversed and with its
 * channels swapped. Together the phases do the forward pass's multiply-adds, where correlating
 * the stride-spread dy (zeros between samples) does stride² times as many.
 */
function phasedInputGradient(
  scratch: WasmScratch,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { strideHeight, strideWidth, filterHeight, filterWidth, inHeight, inWidth } = info;
  const { top, left } = info.padInfo;
  const [batch, outHeight, outWidth, outChannels] = dy.shape;
  const inChannels = info.inChannels;
  const phases: Phase[] = [];
  let covered = true;
  for (let rowPhase = 0; rowPhase < strideHeight; rowPhase++) {
    for (let colPhase = 0; colPhase < strideWidth; colPhase++) {
      // Taps of this phase, and the dy rows v (dx row stride·v + phase − pad) inside dx.
      const tapRows = Math.ceil((filterHeight - rowPhase) / strideHeight);
      const tapCols = Math.ceil((filterWidth - colPhase) / strideWidth);
      const firstRow = Math.ceil((top - rowPhase) / strideHeight);
      const rows = Math.floor((inHeight - 1 + top - rowPhase) / strideHeight) - firstRow + 1;
      const firstCol = Math.ceil((left - colPhase) / strideWidth);
      const cols = Math.floor((inWidth - 1 + left - colPhase) / strideWidth) - firstCol + 1;
      if (rows <= 0 || cols <= 0) continue;
      if (tapRows <= 0 || tapCols <= 0) {
        covered = false; // rows no tap reaches: their gradient is zero
        continue;
      }
      const sub = scratch.make([tapRows, tapCols, outChannels, inChannels]);
      const from = scratch.view(filter);
      const to = scratch.view(sub);
      for (let m = 0; m < tapRows; m++) {
        for (let n = 0; n < tapCols; n++) {
          const kRow = rowPhase + strideHeight * (tapRows - 1 - m);
          const kCol = colPhase + strideWidth * (tapCols - 1 - n);
          const source = (kRow * filterWidth + kCol) * inChannels * outChannels;
          const target = (m * tapCols + n) * outChannels * inChannels;
          for (let o = 0; o < outChannels; o++) {
            for (let i = 0; i < inChannels; i++) {
              to[target + o * inChannels + i] = from[source + i * outChannels + o];
            }
          }
        }
      }
      const padTop = tapRows - 1 - firstRow;
      const padLeft = tapCols - 1 - firstCol;
      const part = phaseConvolution(scratch, dy, sub, [
        padTop,
        rows - outHeight - padTop + tapRows - 1,
        padLeft,
        cols - outWidth - padLeft + tapCols - 1,
      ]);
      phases.push({ rowPhase, colPhase, firstRow, firstCol, part });
    }
  }
  const dx = scratch.make([batch, inHeight, inWidth, inChannels]);
  const out = scratch.view(dx);
  if (!covered) out.fill(0);
  for (const { rowPhase, colPhase, firstRow, firstCol, part } of phases) {
    const values = scratch.view(part);
    const [, rows, cols] = part.shape;
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < rows; r++) {
        const u = strideHeight * (firstRow + r) + rowPhase - top;
        for (let c = 0; c < cols; c++) {
          const w = strideWidth * (firstCol + c) + colPhase - left;
          const target = ((b * inHeight + u) * inWidth + w) * inChannels;
          const source = ((b * rows + r) * cols + c) * inChannels;
          out.set(values.subarray(source, source + inChannels), target);
        }
      }
    }
  }
  return dx;
}

/**
 * dx = correlation of the stride-spread dy with the spatially reversed filter, its in/out
 * channels swapped ([kh, kw, Cout, Cin]), padded (kh − 1) − padTop on top, stride 1.
 */
/**
 * One phase's `valid` stride-1 convolution of dy after padding by [top, bottom, left, right]
 * (negative: a crop): our SIMD forward kernel where it runs (it pads by itself), else XNNPACK.
 */
function phaseConvolution(
  scratch: WasmScratch,
  dy: TensorInfo,
  sub: TensorInfo,
  pads: [number, number, number, number],
): TensorInfo {
  if (Math.min(...pads) >= 0) {
    const [top, bottom, left, right] = pads;
    const info = backend_util.computeConv2DInfo(
      dy.shape as [number, number, number, number],
      sub.shape as [number, number, number, number],
      1,
      1,
      [[0, 0], [top, bottom], [left, right], [0, 0]],
    );
    const out = simdConvForward(scratch.backend, dy, sub, undefined, info, "linear");
    if (out !== undefined) return scratch.adopt(out);
  }
  return scratch.convolvePadded(dy, sub, pads, [1, 1]);
}

const conv2dBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as Record<"dy" | "filter", TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as Conv2DBackpropInputAttrs;
  if (dataFormat !== "NHWC") {
    throw new Error(
      `wasm Conv2DBackpropInput supports dataFormat 'NHWC' only, got '${dataFormat}'`,
    );
  }
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  // 3×3, stride-1 layers: Winograd's F(2×2, 3×3); other stride-1 layers: our SIMD kernel, with
  // no multiply-adds on padding (see their modules).
  const fast = winogradInputGradient(backend, dy, filter, info) ??
    simdInputGradient(backend, dy, filter, info);
  if (fast !== undefined) return fast;
  return withScratch(backend as KernelBackend, (scratch) => {
    if (info.strideHeight > 1 || info.strideWidth > 1) {
      return phasedInputGradient(scratch, dy, filter, info);
    }
    const { spread, padding } = scratch.spreadForInputGradient(dy, info);
    const reversed = scratch.run("Reverse", { x: filter }, { dims: [0, 1] });
    const swapped = scratch.run("Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
    return scratch.convolvePadded(spread, swapped, padding, [1, 1]);
  });
};

/** Kernel registration for `Conv2DBackpropInput` on `wasm`, replacing the built-in one. */
export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2dBackpropInput,
};
