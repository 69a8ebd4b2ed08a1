/**
 * Structured channel pruning: the filters of a convolution with the smallest L1 norms are removed
 * (Li et al. 2017) and the model is rebuilt with fewer filters, so it really is smaller and
 * faster. A convolution is pruned when its output reaches exactly one consumer through
 * channel-wise layers (batch norm, activations, pooling, dropout, padding) and that consumer is a
 * convolution, or a dense layer after Flatten or global pooling; residual adds keep their
 * channels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { PruningError } from "./prune.ts";

const CHANNELWISE = new Set([
  "BatchNormalization",
  "ReLU",
  "Activation",
  "LeakyReLU",
  "ELU",
  "MaxPooling2D",
  "AveragePooling2D",
  "Dropout",
  "SpatialDropout2D",
  "ZeroPadding2D",
]);

/** Options for {@linkcode pruneChannels}. */
export interface ChannelPruningOptions {
  /** Fraction of each prunable convolution's filters to remove, in [0, 1). */
  ratio: number;
}

/** What {@linkcode pruneChannels} returns. */
export interface ChannelPruningResult {
  /** The rebuilt, smaller model (the input model is left as it was). */
  model: tfl.LayersModel;
  /** Filters kept per pruned convolution, by layer name: `[kept, before]`. */
  pruned: Record<string, [number, number]>;
}

type Link = {
  conv: tfl.layers.Layer;
  between: tfl.layers.Layer[];
  consumer: tfl.layers.Layer;
  kind: "conv" | "flatten" | "pool";
};

function consumersOf(layer: tfl.layers.Layer): tfl.layers.Layer[] {
  const out = new Set<tfl.layers.Layer>();
  for (const node of layer.outboundNodes) out.add(node.outboundLayer as tfl.layers.Layer);
  return [...out];
}

function linkOf(conv: tfl.layers.Layer, members: Set<tfl.layers.Layer>): Link | null {
  const between: tfl.layers.Layer[] = [];
  let current = conv;
  for (;;) {
    const next = consumersOf(current).filter((l) => members.has(l));
    if (next.length !== 1 || next[0].inboundNodes.length !== 1) return null;
    const layer = next[0];
    if (layer.inboundNodes[0].inboundLayers.length !== 1) return null;
    const name = layer.getClassName();
    if (CHANNELWISE.has(name)) {
      between.push(layer);
      current = layer;
      continue;
    }
    if (name === "Conv2D") return { conv, between, consumer: layer, kind: "conv" };
    if (name === "Flatten" || name === "GlobalAveragePooling2D" || name === "GlobalMaxPooling2D") {
      const after = consumersOf(layer).filter((l) => members.has(l));
      if (after.length !== 1 || after[0].getClassName() !== "Dense") return null;
      between.push(layer);
      return { conv, between, consumer: after[0], kind: name === "Flatten" ? "flatten" : "pool" };
    }
    return null;
  }
}

/** Indices of the filters with the largest L1 norms, `keep` of them, in order. */
function strongest(kernel: tf.Tensor, keep: number): number[] {
  const norms = tf.tidy(() => tf.sum(tf.abs(kernel), [0, 1, 2]).dataSync() as Float32Array);
  return [...norms.keys()].sort((a, b) => norms[b] - norms[a] || a - b).slice(0, keep).sort((
    a,
    b,
  ) => a - b);
}

function gather(tensor: tf.Tensor, indices: number[], axis: number): tf.Tensor {
  return tf.tidy(() => tf.gather(tensor, tf.tensor1d(indices, "int32"), axis));
}

/**
 * Removes `ratio` of the filters of every prunable convolution, those with the smallest L1
 * norms, and returns a rebuilt model with the remaining weights.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { pruneChannels } from "./channels.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 3, name: "c1" }),
 *     tfl.layers.reLU(),
 *     tfl.layers.globalAveragePooling2d({}),
 *     tfl.layers.dense({ units: 2 }),
 *   ],
 * });
 * const { model: small, pruned } = await pruneChannels(model, { ratio: 0.5 });
 * assert.deepEqual(pruned, { c1: [4, 8] });
 * assert.ok(small.countParams() < model.countParams());
 * model.dispose();
 * small.dispose();
 * ```
 */
export async function pruneChannels(
  model: tfl.LayersModel,
  options: ChannelPruningOptions,
): Promise<ChannelPruningResult> {
  if (!(options.ratio >= 0 && options.ratio < 1)) {
    throw new PruningError(`channel pruning ratio must be in [0, 1), got ${options.ratio}`);
  }
  const members = new Set(model.layers as tfl.layers.Layer[]);
  const links = (model.layers as tfl.layers.Layer[])
    .filter((l) => l.getClassName() === "Conv2D")
    .map((l) => linkOf(l, members))
    .filter((l): l is Link => l !== null);
  // Channels kept: on a layer's output (pruned convolutions, the layers between) and on a
  // consumer's input.
  const outputKeep = new Map<string, number[]>();
  const inputKeep = new Map<string, { keep: number[]; channels: number; kind: Link["kind"] }>();
  const pruned: Record<string, [number, number]> = {};
  for (const link of links) {
    const kernel = link.conv.getWeights()[0];
    const filters = kernel.shape[3]!;
    const keep = strongest(kernel, Math.max(1, Math.round(filters * (1 - options.ratio))));
    if (keep.length === filters) continue;
    pruned[link.conv.name] = [keep.length, filters];
    outputKeep.set(link.conv.name, keep);
    for (const layer of link.between) outputKeep.set(layer.name, keep);
    inputKeep.set(link.consumer.name, { keep, channels: filters, kind: link.kind });
  }
  const json = model.toJSON(null, false) as unknown as {
    config: { layers: { name?: string; config: Record<string, unknown> }[] };
  };
  for (const entry of json.config.layers) {
    const name = (entry.config.name ?? entry.name) as string;
    if (pruned[name]) entry.config.filters = pruned[name][0];
  }
  const rebuilt = await tfl.models.modelFromJSON({
    modelTopology: json as unknown as tf.io.ModelJSON["modelTopology"],
  });
  for (const layer of model.layers) {
    const target = rebuilt.getLayer(layer.name);
    const inKeep = inputKeep.get(layer.name);
    const outKeep = outputKeep.get(layer.name);
    const weights = layer.getWeights().map((w, i) => {
      let out = w;
      if (inKeep && i === 0) {
        if (inKeep.kind === "conv") out = gather(out, inKeep.keep, 2);
        else {
          const rows: number[] = [];
          const positions = out.shape[0] / inKeep.channels;
          for (let p = 0; p < positions; p++) {
            for (const c of inKeep.keep) rows.push(p * inKeep.channels + c);
          }
          out = gather(out, rows, 0);
        }
      }
      if (outKeep && (w.rank === 1 || (layer.getClassName() === "Conv2D" && i === 0))) {
        const next = gather(out, outKeep, w.rank - 1);
        if (out !== w) out.dispose();
        out = next;
      }
      return out;
    });
    if (weights.length > 0) target.setWeights(weights);
    tf.dispose(weights.filter((w, i) => w !== layer.getWeights()[i]));
  }
  return { model: rebuilt, pruned };
}
