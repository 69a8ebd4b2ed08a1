// `deno task explain`: Grad-CAM pictures, feature maps and kernels of a run's model, as PNGs.
import { decodeImageFile, explainImage, featureGrid, filterTiles, savePng } from "../mod.ts";
import { basename, extname, join } from "../lib/_internal/path.ts";
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
  class: { type: "string", description: "explain this class (default: the predicted one)" },
  layer: { type: "string", description: "Grad-CAM layer (default: the last spatial layer)" },
  "top-k": { type: "string", description: "labels under each picture", default: "3" },
  "feature-maps": { type: "string", description: "also write this layer's activations" },
  filters: {
    type: "string",
    description: "also write this convolution's kernels as tiles ('first': the first one)",
  },
  out: {
    type: "string",
    description: "output folder (default: <run>/explain, or runs/explain with --pretrained)",
  },
  ...COMPUTE_FLAGS,
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task explain --run <run dir> <image>... [--class NAME] [--layer NAME]",
  "Writes <out>/<image>.gradcam.png for each image: the image as the model sees it with the\n" +
    "Grad-CAM heatmap of the predicted class (or --class) blended over it and the top-k labels.\n" +
    "--feature-maps LAYER adds <image>.features.png (one tile per channel); --filters LAYER\n" +
    "writes filters.png with the kernels. Layers are names or nested paths (base/conv1).",
  FLAGS,
  [
    "deno task explain --run runs/ants-bees ../shared/datasets/hymenoptera/val/bees/1.jpg",
    "deno task explain --run runs/digits --class 7 --feature-maps conv2d_1 digit.png",
    "deno task explain --pretrained torchvision:resnet18 --filters first photo.jpg",
  ],
);

/** Runs the explain command; returns the process exit code. */
export async function explainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  requireOneSource(values);
  if (positionals.length === 0 && values.filters === undefined) {
    throw new UsageError("name at least one image file (or ask for --filters)");
  }
  const k = topKFlag(values["top-k"]);
  const trained = await openModelFromFlags(values);
  const out = (values.out as string | undefined) ??
    (values.run !== undefined
      ? join((values.run as string).replace(/\/model\/?$/, ""), "explain")
      : join("runs", "explain"));
  await Deno.mkdir(out, { recursive: true });
  const written: Record<string, unknown>[] = [];
  try {
    if (values.filters !== undefined) {
      const layer = values.filters === "first" ? undefined : values.filters as string;
      const tiles = await filterTiles(trained.model, layer);
      const path = join(out, "filters.png");
      await savePng(path, tiles.image);
      console.log(`${path}  kernels of ${tiles.layer}`);
      written.push({ filters: path, layer: tiles.layer });
    }
    const channels = trained.preprocessing.inputShape[2] as 1 | 3;
    for (const file of positionals) {
      const image = await decodeImageFile(file, { channels });
      const explanation = await explainImage(trained, image, {
        className: values.class as string | undefined,
        layer: values.layer as string | undefined,
        topK: k,
        featureLayer: values["feature-maps"] as string | undefined,
      });
      const stem = basename(file, extname(file));
      const path = join(out, `${stem}.gradcam.png`);
      await savePng(path, explanation.picture);
      const { gradCam, top, features } = explanation;
      const explained = trained.preprocessing.classes[gradCam.classIndex];
      const labels = top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join("  ");
      console.log(`${path}  ${explained} at ${gradCam.layer}  (${labels})`);
      const entry: Record<string, unknown> = {
        file,
        gradcam: path,
        layer: gradCam.layer,
        explained,
        top: top.map(({ label, probability }) => ({ label, probability })),
      };
      if (features !== undefined) {
        const featurePath = join(out, `${stem}.features.png`);
        await savePng(featurePath, featureGrid(features));
        console.log(`${featurePath}  ${features.channels} maps of ${features.layer}`);
        entry.features = featurePath;
      }
      written.push(entry);
    }
  } finally {
    trained.model.dispose();
  }
  if (values.json) console.log(JSON.stringify({ out, written }));
  return 0;
}
