// `deno task export`: a trained run's model as ONNX (model.onnx beside model/, preprocessing in
// its metadata) or as a TF.js LayersModel folder with its preprocessing.json.
import { basename, dirname, join } from "node:path";
import {
  exportOnnx,
  fileHandler,
  onnxMetadata,
  openTorchvisionModel,
  openTrainedModel,
  originMetadata,
  readOnnxModel,
  type TrainedModel,
  useBackend,
} from "../mod.ts";
import { writeFileAtomic } from "../lib/io/_atomic.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";

const FLAGS: FlagSpecs = {
  run: {
    type: "string",
    description: "run directory (or its model/ folder), or torchvision:<name> / a .pth file",
  },
  format: { type: "string", description: "onnx or tfjs", default: "onnx" },
  out: {
    type: "string",
    description: "output path (default: <run>/model.onnx, or <run>/tfjs/ for tfjs)",
  },
  float16: { type: "boolean", description: "store the weights as float16 (half the size)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task export --run <run dir> [--format onnx|tfjs] [--out path] [--float16]",
  "Exports a trained model. ONNX: the graph torch.onnx.export writes (NCHW float32 `input` with\n" +
    "a dynamic batch, `logits`, opset 13, batch norms folded), with the classes, input size,\n" +
    "mean and std in its metadata_props; ONNX Runtime, onnx.checker and Netron read it.\n" +
    "TF.js: model.json + weights.bin + preprocessing.json, for @tensorflow/tfjs in a browser.\n" +
    "Both say what the model is: `architecture` and `weights` (where its weights came from).",
  FLAGS,
  [
    "deno task export --run runs/20261122-101500-compact-cnn",
    "deno task export --run runs/ants-bees --float16 --out runs/ants-bees/model-fp16.onnx",
    "deno task export --run runs/ants-bees --format tfjs --float16",
  ],
);

/** A run directory's model folder → the run directory; any other folder stays itself. */
function runDirOf(trained: TrainedModel): string {
  return basename(trained.modelDir) === "model" ? dirname(trained.modelDir) : trained.modelDir;
}

/** Runs the export command; returns the process exit code. */
export async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.run === undefined) throw new UsageError("--run <run directory> is required");
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const format = values.format as string;
  if (format !== "onnx" && format !== "tfjs") {
    throw new UsageError(`--format must be onnx or tfjs, got '${format}'`);
  }
  const source = values.run as string;
  const fromRun = !source.startsWith("torchvision:") && !/\.(pth|pt|safetensors)$/.test(source);
  if (!fromRun && values.out === undefined) {
    throw new UsageError(`--out <path> is required to export ${source}`);
  }
  // Loading weights needs a backend, not a fast one: the plain CPU kernels start at once.
  await useBackend("cpu");
  // A run's model/ folder directly: exporting needs its preprocessing.json, not config.json.
  const modelDir = join(source, "model");
  const direct = fromRun &&
    await Deno.stat(join(modelDir, "model.json")).then(() => true, () => false);
  const trained =
    await (fromRun ? openTrainedModel(direct ? modelDir : source) : openTorchvisionModel(source))
      .catch((error: Error) => {
        // tfjs' deserialisation errors name neither the file nor fit on one line.
        const where = direct ? join(modelDir, "model.json") : source;
        const message = error.message.replace(/\s*\n\s*/g, " ");
        throw new Error(message.startsWith(source) ? message : `${where}: ${message}`);
      });
  try {
    const float16 = values.float16 === true;
    if (format === "onnx") {
      const out = (values.out as string | undefined) ?? join(runDirOf(trained), "model.onnx");
      await exportOnnx(trained.model, out, {
        float16,
        metadata: onnxMetadata(trained.preprocessing, trained.origin),
      });
      const info = readOnnxModel(await Deno.readFile(out));
      const size = (await Deno.stat(out)).size;
      console.log(
        `${out}: ONNX opset ${info.opset}, ${info.nodes} nodes, ${(size / 1e6).toFixed(2)} MB${
          float16 ? " (float16 weights)" : ""
        }; input ${info.inputs[0].dims.join("×")} (NCHW), output ${info.outputs[0].name} ${
          info.outputs[0].dims.join("×")
        }`,
      );
      return 0;
    }
    const out = (values.out as string | undefined) ?? join(runDirOf(trained), "tfjs");
    // model.json's userDefinedMetadata: the architecture and where its weights came from.
    if (trained.origin) trained.model.setUserDefinedMetadata(originMetadata(trained.origin));
    await trained.model.save(fileHandler(out, { quantization: float16 ? "float16" : "none" }));
    await writeFileAtomic(
      join(out, "preprocessing.json"),
      JSON.stringify(trained.preprocessing, null, 2) + "\n",
    );
    console.log(`${out}: TF.js LayersModel (model.json, weights.bin, preprocessing.json)`);
    return 0;
  } finally {
    trained.model.dispose();
  }
}
