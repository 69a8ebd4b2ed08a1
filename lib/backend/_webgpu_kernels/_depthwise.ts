// Internal: what our two depthwise gradients share: the layer's geometry, which layers they
// take (channel multiplier 1, no dilation), and the uniforms that describe it to the shaders,
// channels counted in groups (vec4s when C is a multiple of 4).
import { backend_util } from "@tensorflow/tfjs-core";
import type { Uniform } from "./_raw_program.ts";

/** The WGSL uniforms' fields the uniforms below fill. */
export const DEPTHWISE_UNIFORMS =
  "inDims : vec4<i32>, outDims : vec4<i32>, kernel : vec4<i32>, geometry : vec4<i32>,";

/** A depthwise layer as our shaders see it. */
export interface DepthwiseLayer {
  info: backend_util.Conv2DInfo;
  /** Whether a channel group is a vec4. */
  vec: boolean;
  /** Channel groups. */
  lanes: number;
  /** inDims, outDims (channels as groups), kernel, and strides with the top/left padding. */
  uniforms: Uniform[];
}

/** The layer, or undefined when ours does not take it (multiplier ≠ 1, dilation). */
export function depthwiseLayer(
  inShape: number[],
  filterShape: number[],
  attrs: {
    strides: number | [number, number];
    dilations: number | [number, number];
    pad: "valid" | "same" | number | backend_util.ExplicitPadding;
    dimRoundingMode?: "floor" | "round" | "ceil";
  },
): DepthwiseLayer | undefined {
  const info = backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  if (
    info.outChannels !== info.inChannels || info.dilationHeight !== 1 || info.dilationWidth !== 1
  ) {
    return undefined;
  }
  const vec = info.inChannels % 4 === 0;
  const lanes = vec ? info.inChannels / 4 : info.inChannels;
  const uniforms = [
    [info.batchSize, info.inHeight, info.inWidth, lanes],
    [info.batchSize, info.outHeight, info.outWidth, lanes],
    [info.filterHeight, info.filterWidth, 0, 0],
    [info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left],
  ].map((data) => ({ type: "int32" as const, data }));
  return { info, vec, lanes, uniforms };
}
