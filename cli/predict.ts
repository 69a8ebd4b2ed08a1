// `deno task predict`: top-k labels for image files or folders, with the run's preprocessing.
import { parseTtaMode, predictFiles } from "../mod.ts";
import { join } from "../lib/_internal/path.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";
import {
  COMPUTE_FLAGS,
  openModelFromFlags,
  requireOneSource,
  SOURCE_FLAGS,
  topKFlag,
} from "./_model_source.ts";

const FLAGS: FlagSpecs = {
  ...SOURCE_FLAGS,
  "top-k": { type: "string", description: "labels per image", default: "3" },
  tta: {
    type: "string",
    description: "test-time augmentation, logits averaged: none, hflip or five-crop",
    default: "none",
  },
  ...COMPUTE_FLAGS,
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task predict --run <run dir> <image or folder>...",
  "Prints the top-k classes with probabilities for each JPEG/PNG file (folders are walked),\n" +
    "preprocessed exactly as the run's evaluation pipeline (model/preprocessing.json).\n" +
    "With --pretrained, a torchvision ImageNet classifier with torchvision's preprocessing;\n" +
    "torchvision:<name> is downloaded once into data/weights/.",
  FLAGS,
  [
    "deno task predict --run runs/20261122-101500-compact-cnn data/samples/",
    "deno task predict --run runs/ants-bees --top-k 1 --json photo.jpg",
    "deno task predict --run runs/ants-bees --tta five-crop photo.jpg",
    "deno task predict --pretrained torchvision:resnet18 photo.jpg",
  ],
);

const IMAGE = /\.(jpe?g|png)$/i;

/** Files named on the command line, folders expanded (sorted, images only). */
async function collect(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new UsageError(`${path}: not found`);
      throw error;
    }
    if (!info.isDirectory) {
      files.push(path);
      continue;
    }
    const inner: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      if (entry.isFile && IMAGE.test(entry.name)) inner.push(join(path, entry.name));
      if (entry.isDirectory) inner.push(...await collect([join(path, entry.name)]));
    }
    files.push(...inner.sort());
  }
  return files;
}

/** Runs the predict command; returns the process exit code. */
export async function predictCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  requireOneSource(values);
  if (positionals.length === 0) throw new UsageError("name at least one image file or folder");
  const k = topKFlag(values["top-k"]);
  let tta;
  try {
    tta = parseTtaMode(String(values.tta ?? "none"));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const files = await collect(positionals);
  if (files.length === 0) throw new UsageError("no .jpg, .jpeg or .png files found");
  const trained = await openModelFromFlags(values);
  const started = performance.now();
  let resized = 0;
  const predictions = await predictFiles(trained, files, k, {
    tta,
    onResize: (file, [width, height]) => {
      const [h, w] = trained.preprocessing.inputShape;
      if (resized++ === 0) {
        console.error(
          `note: ${file} is ${width}×${height}; images are resized to the model's ${w}×${h} ` +
            `(its preprocessing has no resize step)`,
        );
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  trained.model.dispose();
  const width = Math.min(60, Math.max(...files.map((f) => f.length)));
  for (const { file, top } of predictions) {
    const labels = top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join("  ");
    console.log(`${file.padEnd(width)}  ${labels}`);
  }
  console.error(
    `${files.length} image${files.length === 1 ? "" : "s"} in ${seconds.toFixed(2)} s`,
  );
  if (values.json) {
    console.log(JSON.stringify({
      predictions: predictions.map(({ file, top }) => ({
        file,
        top: top.map(({ label, probability }) => ({ label, probability })),
      })),
    }));
  }
  return 0;
}
