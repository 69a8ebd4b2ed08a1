// Internal (benchmarks and tests only, never a runtime dependency): the Keras MobileNetV2 that the
// npm package nsfwjs@4.3.0 ships in dist/models/mobilenet_v2/, with its model.json and its
// weights wrapped as UMD JavaScript modules. We unwrap both and load a real pretrained backbone.
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
// This subpath only declares loaders (it imports no tfjs); importing it makes Deno install the
// package, whose model files we then read ourselves.
import "nsfwjs/models/mobilenet_v2";

/** Evaluates a UMD bundle the CommonJS way and returns what it exports. */
function unwrapUmd(source: string): unknown {
  const module = { exports: {} as unknown };
  new Function("module", "exports", "define", source)(module, module.exports, undefined);
  return module.exports;
}

/** nsfwjs's MobileNetV2 (224×224×3 inputs scaled to [0, 1]), pretrained; 5-class NSFW head. */
export async function loadNsfwjsMobileNetV2(): Promise<tfl.LayersModel> {
  const entry = new URL(import.meta.resolve("nsfwjs/models/mobilenet_v2")).pathname;
  const folder = entry.replace(/dist\/.*$/, "dist/models/mobilenet_v2/");
  const modelJson = unwrapUmd(await Deno.readTextFile(`${folder}model.min.js`)) as tf.io.ModelJSON;
  const weights = unwrapUmd(await Deno.readTextFile(`${folder}group1-shard1of1.min.js`)) as string;
  const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
  return await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
    weightData: bytes.buffer,
  }));
}
