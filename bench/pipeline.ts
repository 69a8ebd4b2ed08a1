// The input pipeline on an ImageFolder, like ../shared/reference/torch_imagefolder_pipeline.py:
// decode, RandomResizedCrop 224, horizontal flip, normalize (ImageNet mean/std), batch 32,
// shuffle, 2 workers. The first epoch decodes every JPEG (and fills the decoded-sample cache,
// shorter side 256); later epochs read the cache. Prints one JSON object as the last line.
// Run: deno task bench:pipeline [--root DIR] [--epochs 5] [--workers 2] [--no-cache]
import {
  compose,
  DataLoader,
  ImageFolder,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomHorizontalFlip,
  randomResizedCrop,
  type Transform,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, runScript } from "../cli/_args.ts";

const FLAGS: FlagSpecs = {
  root: {
    type: "string",
    description: "ImageFolder root (one folder per class)",
    default: "../shared/datasets/hymenoptera/train",
  },
  epochs: {
    type: "string",
    description: "epochs; the first decodes, later ones read the cache",
    default: "5",
  },
  workers: { type: "string", description: "decode worker processes", default: "2" },
  "no-cache": { type: "boolean", description: "decode every epoch (no decoded-sample cache)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task bench:pipeline [--root DIR] [--epochs 5] [--workers 2] [--no-cache]",
  "Times the input pipeline on an ImageFolder (decode, RandomResizedCrop 224, flip, ImageNet\n" +
    "normalize, batch 32, shuffled, worker processes): images/s of the first epoch (decoding)\n" +
    "and of the later ones (cache). Prints one JSON object as the last stdout line.",
  FLAGS,
  [
    "deno task bench:pipeline",
    "deno task bench:pipeline --root ../shared/datasets/hymenoptera/val --epochs 3 --workers 1",
    "deno task bench:pipeline --no-cache | tail -n 1 | jq .later_epochs_images_per_s",
  ],
);

/** The reference's per-sample recipe: RandomResizedCrop 224, flip, ImageNet normalize. */
export function referenceTransform(): Transform {
  return compose([
    randomResizedCrop(224),
    randomHorizontalFlip(),
    normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }),
  ]);
}

/** Runs the pipeline benchmark; returns the figures printed as JSON. */
export async function runPipelineBench(
  args: string[] = Deno.args,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs(args, FLAGS);
  const cacheDir = `data/.bench-cache-${crypto.randomUUID()}`; // empty: the first epoch really decodes
  const dataset = await ImageFolder.open(values.root as string, { onWarning: () => {} });
  const loader = new DataLoader(dataset, {
    batchSize: 32,
    shuffle: true,
    numWorkers: Number(values.workers),
    persistentWorkers: true,
    transform: referenceTransform(),
    cache: values["no-cache"] ? false : { dir: cacheDir, shorterSide: 256 },
  });
  const rates: number[] = [];
  try {
    for (let epoch = 0; epoch < Number(values.epochs); epoch++) {
      const start = performance.now();
      let images = 0;
      for await (const batch of loader.batches(epoch)) images += batch.labels.length;
      rates.push(images / ((performance.now() - start) / 1000));
      console.error(`epoch ${epoch}: ${rates.at(-1)!.toFixed(1)} img/s`);
    }
  } finally {
    loader.close();
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }
  const later = rates.slice(1);
  const result = {
    framework: `denovision (deno ${Deno.version.deno})`,
    images: dataset.length,
    workers: Number(values.workers),
    size: 224,
    cache: !values["no-cache"],
    first_epoch_images_per_s: Math.round(rates[0] * 10) / 10,
    later_epochs_images_per_s: Math.round((later.reduce((a, b) => a + b, 0) / later.length) * 10) /
      10,
  };
  return result;
}

if (import.meta.main) {
  Deno.exit(
    await runScript(Deno.args, HELP, async (args) => {
      console.log(JSON.stringify(await runPipelineBench(args)));
    }),
  );
}
