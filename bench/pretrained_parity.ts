// torchvision parity figures: for each architecture, the logits of loadTorchvision(<arch>.pth) on
// a photo (our decoder and preprocessing) against PyTorch's (bench/torch_pretrained.py, PIL and
// torchvision's transforms). Prints one JSON object as the last stdout line.
// Run: /usr/bin/python3 bench/torch_pretrained.py --out data/parity --photo IMG
//      deno run --allow-read=.,../shared bench/pretrained_parity.ts data/parity IMG
import * as tf from "@tensorflow/tfjs-core";
import {
  decodeImageFile,
  loadTorchvision,
  TORCHVISION_MODELS,
  torchvisionTransform,
  useBackend,
} from "../mod.ts";
import { Rng } from "../lib/_internal/rng.ts";

/** One architecture's comparison. */
export interface ParityFigure {
  arch: string;
  /** max |ours − PyTorch| over the 1000 logits */
  maxAbsDiff: number;
  /** max |PyTorch logit| */
  maxAbsLogit: number;
  /** whether both pick the same class */
  sameTop1: boolean;
}

/** Compares every architecture whose `<arch>.pth` and `<arch>.json` are in `dir`. */
export async function pretrainedParity(
  dir: string,
  photo: string,
  archs: readonly string[] = Object.keys(TORCHVISION_MODELS),
): Promise<ParityFigure[]> {
  const figures: ParityFigure[] = [];
  for (const arch of archs) {
    const expected: number[] = JSON.parse(await Deno.readTextFile(`${dir}/${arch}.json`)).logits;
    const model = await loadTorchvision(arch, `${dir}/${arch}.pth`);
    const image = torchvisionTransform(arch).apply(await decodeImageFile(photo), new Rng(0));
    const logits = tf.tidy(() =>
      model.predict(tf.tensor4d(image.data as Float32Array, [1, 224, 224, 3])) as tf.Tensor
    );
    const actual = Array.from(await logits.data());
    logits.dispose();
    model.dispose();
    const argmax = (v: number[]) => v.indexOf(Math.max(...v));
    figures.push({
      arch,
      maxAbsDiff: Math.max(...actual.map((value, i) => Math.abs(value - expected[i]))),
      maxAbsLogit: Math.max(...expected.map(Math.abs)),
      sameTop1: actual.length === expected.length && argmax(actual) === argmax(expected),
    });
  }
  return figures;
}

if (import.meta.main) {
  const [dir, photo, ...archs] = Deno.args;
  await useBackend("wasm");
  const figures = await pretrainedParity(dir, photo, archs.length > 0 ? archs : undefined);
  console.log(JSON.stringify({ backend: "wasm", figures }));
}
