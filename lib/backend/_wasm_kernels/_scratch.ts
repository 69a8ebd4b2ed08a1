// Internal: runs the wasm backend's own kernels from inside our kernels and frees intermediates.
import { type backend_util, getKernel, type KernelBackend } from "@tensorflow/tfjs-core";
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of the wasm backend that hand out heap memory. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: "float32" | "int32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** Intermediate results of one composite kernel; `finish` frees all but the returned one. */
export class WasmScratch {
  readonly #backend: KernelBackend;
  readonly #created: TensorInfo[] = [];

  constructor(backend: KernelBackend) {
    this.#backend = backend;
  }

  /** The backend the intermediates live on. */
  get backend(): KernelBackend {
    return this.#backend;
  }

  /** Runs the wasm kernel `name` and remembers its output for disposal. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(name, "wasm");
    if (kernel === undefined) {
      throw new Error(`wasm kernel '${name}' is not registered; is the wasm backend loaded?`);
    }
    const output = kernel.kernelFunc({ inputs, backend: this.#backend, attrs });
    const info = Array.isArray(output) ? output[0] : output;
    this.#created.push(info);
    return info;
  }

  /** A new tensor on the wasm heap (float32 unless said), freed with the other intermediates. */
  make(shape: number[], dtype: "float32" | "int32" = "float32"): TensorInfo {
    const info = (this.#backend as unknown as WasmHeap).makeOutput(shape, dtype);
    this.#created.push(info);
    return info;
  }

  /** Takes `info`, made by another kernel, to free it with the other intermediates. */
  adopt(info: TensorInfo): TensorInfo {
    this.#created.push(info);
    return info;
  }

  /** A float32 tensor's values, a view of the wasm heap (valid until the next allocation). */
  view(info: TensorInfo): Float32Array {
    return (this.#backend as unknown as WasmHeap).typedArrayFromHeap(info);
  }

  /**
   * Slices away negative and zero-pads positive amounts on the height and width axes of an NHWC
   * tensor, so one call covers "pad to the size we need" and "crop rows a stride never reads".
   */
  padOrCrop(x: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
    let result = x;
    const [n, h, w, c] = x.shape;
    const crop = [Math.max(0, -top), Math.max(0, -bottom), Math.max(0, -left), Math.max(0, -right)];
    if (crop.some((v) => v > 0)) {
      result = this.run("Slice", { x: result }, {
        begin: [0, crop[0], crop[2], 0],
        size: [n, h - crop[0] - crop[1], w - crop[2] - crop[3], c],
      });
    }
    const pad = [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)];
    if (pad.some((v) => v > 0)) {
      result = this.run("PadV2", { x: result }, {
        paddings: [[0, 0], [pad[0], pad[1]], [pad[2], pad[3]], [0, 0]],
        constantValue: 0,
      });
    }
    return result;
  }

  /** Inserts `stride − 1` zeros after every row (axis 1) or column (axis 2) of an NHWC tensor. */
  spreadByStride(t: TensorInfo, axis: 1 | 2, stride: number): TensorInfo {
    if (stride === 1) return t;
    const [n, h, w, c] = t.shape;
    // Rank-3 views keep the pad kernel on its common path: [outer, 1, inner] → [outer, s, inner].
    const outer = axis === 1 ? n * h : n * h * w;
    const inner = axis === 1 ? w * c : c;
    const view = this.run("Reshape", { x: t }, { shape: [outer, 1, inner] });
    const spread = this.run("PadV2", { x: view }, {
      paddings: [[0, 0], [0, stride - 1], [0, 0]],
      constantValue: 0,
    });
    const shape = axis === 1 ? [n, h * stride, w, c] : [n, h, w * stride, c];
    return this.run("Reshape", { x: spread }, { shape });
  }

  /**
   * A `valid` stride-1 convolution (or depthwise convolution) of `x` after zero-padding its height and width by
   * [top, bottom, left, right] (negative: cropping). Padding alone goes to XNNPACK with the
   * convolution, which reads the zeros without a padded copy of `x`; a crop is sliced first.
   */
  convolvePadded(
    x: TensorInfo,
    filter: TensorInfo,
    [top, bottom, left, right]: [number, number, number, number],
    dilations: [number, number],
    kernel: "Conv2D" | "DepthwiseConv2dNative" = "Conv2D",
  ): TensorInfo {
    const attrs = { strides: [1, 1], dataFormat: "NHWC", dilations };
    if (Math.min(top, bottom, left, right) < 0) {
      const padded = this.padOrCrop(x, top, bottom, left, right);
      return this.run(kernel, { x: padded, filter }, { ...attrs, pad: "valid" });
    }
    const pad = [[0, 0], [top, bottom], [left, right], [0, 0]];
    return this.run(kernel, { x, filter }, { ...attrs, pad });
  }

  /**
   * The input gradient of a convolution is a stride-1 correlation of dy, spread by the forward
   * stride (zeros between samples) and padded by (k − 1)·d − pad, with the reversed filter at the
   * forward dilation. This builds that spread dy and the padding (negative: a crop) after which a
   * `valid` correlation yields exactly the forward input's height and width.
   */
  spreadForInputGradient(
    dy: TensorInfo,
    info: backend_util.Conv2DInfo,
  ): { spread: TensorInfo; padding: [number, number, number, number] } {
    const effectiveHeight = (info.filterHeight - 1) * info.dilationHeight;
    const effectiveWidth = (info.filterWidth - 1) * info.dilationWidth;
    const top = effectiveHeight - info.padInfo.top;
    const left = effectiveWidth - info.padInfo.left;
    const rows = this.spreadByStride(dy, 1, info.strideHeight);
    const spread = this.spreadByStride(rows, 2, info.strideWidth);
    const [, spreadHeight, spreadWidth] = spread.shape;
    return {
      spread,
      padding: [
        top,
        info.inHeight + effectiveHeight - top - spreadHeight,
        left,
        info.inWidth + effectiveWidth - left - spreadWidth,
      ],
    };
  }

  /** Takes `info` out of the intermediates: the caller owns it (an output of the kernel). */
  keep(info: TensorInfo): void {
    const at = this.#created.indexOf(info);
    if (at >= 0) this.#created.splice(at, 1);
  }

  /** Frees every intermediate except `keep`, which the engine takes ownership of. */
  release(keep?: TensorInfo): void {
    for (const info of this.#created) {
      if (info !== keep) this.#backend.disposeData(info.dataId);
    }
    this.#created.length = 0;
  }
}

/** Runs `body` with a fresh scratch; intermediates are freed whether it returns or throws. */
export function withScratch(
  backend: KernelBackend,
  body: (scratch: WasmScratch) => TensorInfo,
): TensorInfo {
  const scratch = new WasmScratch(backend);
  let result: TensorInfo | undefined;
  try {
    result = body(scratch);
    return result;
  } finally {
    scratch.release(result);
  }
}
