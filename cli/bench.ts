// `deno task bench <kind>`: the benchmarks under bench/, with --json for one JSON line last.
import { formatHelp, UsageError } from "./_args.ts";

type Runner = (args: string[]) => Promise<Record<string, unknown>>;

// Loaded on demand, so `deno task train` never compiles the benchmarks.
const KINDS: Record<string, { summary: string; usage: string; load: () => Promise<Runner> }> = {
  decode: {
    summary: "JPEG/PNG decode MP/s on real photos",
    usage: "[--root DIR] [--images 48] [--rounds 3]",
    load: async () => (await import("../bench/decode.ts")).runDecodeBench,
  },
  pipeline: {
    summary: "ImageFolder → RandomResizedCrop 224 + flip + normalize, 2 workers, cache",
    usage: "[--root DIR] [--epochs 5] [--workers 2] [--no-cache]",
    load: async () => (await import("../bench/pipeline.ts")).runPipelineBench,
  },
  train: {
    summary:
      "one training step per model and backend (--model, --backend, --batch-size, --kernels)",
    usage: "[--model lenet] [--backend auto] [--batch-size 64] [--steps 20] [--img-size N] " +
      "[--freeze] [--adapter software] [--kernels ours|stock|ours,stock]",
    load: async () => (await import("../bench/train_step.ts")).runTrainStepBench,
  },
  infer: {
    summary: "one-image latency p50/p99 with preprocessing, and batched throughput",
    usage: "[--run DIR | --model mobilenetv2 --img-size 224] [--backend auto] [--image FILE] " +
      "[--repeats 50] [--batch-size 32]",
    load: async () => (await import("../bench/infer.ts")).runInferBench,
  },
  serve: {
    summary: "POST /predict QPS and p50/p99 under concurrent clients (random weights)",
    usage: "[--model compact-cnn,mobilenetv2 | --run DIR | --url URL] [--concurrency 8] " +
      "[--duration 15] [--warmup 3] [--max-batch 16] [--max-wait-ms 5] [--fail-on-error]",
    load: async () => (await import("../bench/serve.ts")).runServeBench,
  },
  "mnist-protocol": {
    summary: "lenet on 8,000 real MNIST digits, 5 epochs, tested on 2,000",
    usage: "[--root ../shared/datasets/mnist] [--epochs 5] [--backend wasm] [--seed 0]",
    load: async () => (await import("../bench/mnist_protocol.ts")).runMnistProtocol,
  },
};

const HELP = formatHelp(
  "deno task bench <kind> [options] [--json]",
  "Runs one benchmark and prints its figures; with --json the last stdout line is one JSON\n" +
    "object. Kinds:\n" +
    Object.entries(KINDS).map(([name, { summary }]) => `  ${name.padEnd(15)} ${summary}`).join(
      "\n",
    ) + "\n`deno task bench:suite` runs the `deno bench` suites instead.",
  { json: { type: "boolean", description: "print one JSON object as the last stdout line" } },
  [
    "deno task bench pipeline --json",
    "deno task bench mnist-protocol --root ../shared/datasets/mnist --json",
    "deno task bench train --model resnet18 --backend wasm --batch-size 32",
    "deno task bench infer --run runs/20261122-101500-compact-cnn",
  ],
);

/** Runs the bench command; returns the process exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === undefined || kind === "--help" || kind === "-h") {
    console.log(HELP);
    return kind === undefined ? 2 : 0;
  }
  const entry = KINDS[kind];
  if (entry === undefined) {
    throw new UsageError(`unknown benchmark '${kind}'; kinds: ${Object.keys(KINDS).join(", ")}`);
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`Usage: deno task bench ${kind} ${entry.usage} [--json]\n\n${entry.summary}`);
    return 0;
  }
  const json = rest.includes("--json");
  const run = await entry.load();
  let result: Record<string, unknown>;
  try {
    result = await run(rest.filter((arg) => arg !== "--json"));
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${kind}: ${error.message}`);
    // node:util's parseArgs (still used by some kinds) reports unknown flags as a TypeError with
    // code ERR_PARSE_ARGS_*.
    if (/ERR_PARSE_ARGS|Unknown option/.test(`${(error as { code?: string }).code} ${error}`)) {
      throw new UsageError(`${kind}: ${(error as Error).message.split("\n")[0]}`);
    }
    throw error;
  }
  if (json) {
    console.log(JSON.stringify(result));
  } else {
    for (const [key, value] of Object.entries(result)) {
      console.log(`${key.padEnd(28)} ${typeof value === "object" ? JSON.stringify(value) : value}`);
    }
  }
  return 0;
}
