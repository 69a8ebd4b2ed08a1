/**
 * A `tf.io` handler for Deno's file system: saves and loads the TF.js LayersModel format
 * (`model.json` + `weights.bin`), atomically, with optional float16 or uint8 weight quantization
 * that `tf.loadLayersModel` decodes unchanged (in Deno or a browser).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, loadLayersModel } from "@tensorflow/tfjs-layers";
import { join } from "../_internal/path.ts";
import { replaceDirAtomic } from "./_atomic.ts";

/** Weight quantization for export. */
export type Quantization = "none" | "float16" | "uint8";

/** Options for {@linkcode fileHandler}. */
export interface FileHandlerOptions {
  /** Store float32 weights as float16 or as affine uint8. Default: `none`. */
  quantization?: Quantization;
}

const WEIGHTS_FILE = "weights.bin";

/** float32 → float16 bits (round to nearest even; overflow to ±Inf). */
function toHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (((bits >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf/NaN
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  const half = (exponent << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

/** Re-encodes float32 weights with tfjs's quantization schemes (`quantization` in the spec). */
function quantize(
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  mode: Quantization,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  if (mode === "none") return { specs, data };
  const parts: Uint8Array[] = [];
  const out: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (spec.dtype === "float32" || spec.dtype === "int32" ? 4 : 1);
    const raw = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== "float32") {
      parts.push(new Uint8Array(raw));
      out.push(spec);
      continue;
    }
    const values = new Float32Array(raw);
    if (mode === "float16") {
      parts.push(new Uint8Array(Uint16Array.from(values, toHalf).buffer));
      out.push({ ...spec, quantization: { dtype: "float16" } });
    } else {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
      if (!Number.isFinite(min)) [min, max] = [0, 0];
      const scale = max > min ? (max - min) / 255 : 1;
      parts.push(Uint8Array.from(values, (v) => Math.round((v - min) / scale)));
      out.push({ ...spec, quantization: { dtype: "uint8", scale, min } });
    }
  }
  return {
    specs: out,
    data: tf.io.concatenateArrayBuffers(parts.map((p) => p.buffer as ArrayBuffer)),
  };
}

/**
 * A `tf.io.IOHandler` reading and writing a model folder. `model.save(fileHandler(dir))` writes
 * atomically; `tf.loadLayersModel(fileHandler(dir))` reads it back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { fileHandler } from "./file_handler.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1 })] });
 * await Deno.mkdir("data/.test", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "data/.test" });
 * await model.save(fileHandler(`${dir}/model`));
 * const again = await tfl.loadLayersModel(fileHandler(`${dir}/model`));
 * assert.deepEqual(again.getWeights()[0].dataSync(), model.getWeights()[0].dataSync());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function fileHandler(dir: string, options: FileHandlerOptions = {}): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new TypeError("fileHandler saves LayersModels (JSON topology), not graph models");
      }
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : Array.isArray(artifacts.weightData)
        ? tf.io.concatenateArrayBuffers(artifacts.weightData)
        : artifacts.weightData;
      const { specs, data } = quantize(
        artifacts.weightSpecs ?? [],
        weightData,
        options.quantization ?? "none",
      );
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
      };
      if (artifacts.trainingConfig !== undefined) {
        modelJson.trainingConfig = artifacts.trainingConfig;
      }
      if (artifacts.userDefinedMetadata !== undefined) {
        modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      }
      await replaceDirAtomic(dir, async (temp) => {
        await Deno.writeFile(join(temp, WEIGHTS_FILE), new Uint8Array(data));
        await Deno.writeTextFile(join(temp, "model.json"), JSON.stringify(modelJson));
      });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(specs).length,
          weightDataBytes: data.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const path = join(dir, "model.json");
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await Deno.readTextFile(path));
      } catch (error) {
        throw new Error(
          `${path}: cannot read a TF.js model (${error instanceof Error ? error.message : error})`,
        );
      }
      return await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const buffers = [];
        for (const group of manifest) {
          for (const file of group.paths) {
            const bytes = await Deno.readFile(join(dir, file));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/**
 * Loads a TF.js LayersModel (ours, or a Keras model converted to TF.js) from a folder, a
 * `model.json` path, or an http(s) URL (which needs `--allow-net` for its host).
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./file_handler.ts";
 * const backbone = await loadModel("runs/mnist/model");
 * ```
 */
export async function loadModel(source: string): Promise<LayersModel> {
  if (/^https?:\/\//.test(source)) return await loadLayersModel(source);
  return await loadLayersModel(fileHandler(source.replace(/\/model\.json$/, "")));
}
