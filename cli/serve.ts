// `deno task serve`: a trained run behind HTTP (POST /predict, a page at /, /healthz, /metrics),
// draining the requests in flight on SIGTERM or SIGINT.
import { openTrainedModel, selectBackend, serveModel } from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";

const FLAGS: FlagSpecs = {
  run: { type: "string", description: "run directory (or its model/ folder)" },
  port: { type: "string", description: "port to listen on (0 picks a free one)", default: "8080" },
  host: { type: "string", description: "address to listen on", default: "0.0.0.0" },
  "max-batch": { type: "string", description: "most images in one forward pass", default: "16" },
  "max-wait-ms": {
    type: "string",
    description: "how long a batch's first image waits for others",
    default: "5",
  },
  "max-body-mb": { type: "string", description: "largest request body", default: "20" },
  "max-pixels": {
    type: "string",
    description: "most pixels an image may declare (decompression bombs)",
    default: "50000000",
  },
  "max-images": { type: "string", description: "most images per multipart request", default: "32" },
  "max-queue": {
    type: "string",
    description: "images waiting for a batch beyond which requests get 503",
    default: "256",
  },
  "top-k": { type: "string", description: "labels per image without ?topk=", default: "5" },
  backend: { type: "string", description: "auto, webgpu, wasm or cpu", default: "auto" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task serve --run <run dir> [--port 8080]",
  "Serves a trained run over HTTP with the run's own preprocessing:\n" +
    "  POST /predict   a JPEG/PNG body or multipart/form-data images → top-k JSON (?topk=N)\n" +
    "  GET  /          a page to drop or pick images on\n" +
    "  GET  /healthz   liveness and the model's shape;  GET /metrics  Prometheus text\n" +
    "Concurrent requests within --max-wait-ms run as one batch of up to --max-batch images.\n" +
    "SIGTERM or Ctrl-C stops accepting connections and answers the requests in flight first.",
  FLAGS,
  [
    "deno task serve --run runs/20261122-101500-compact-cnn",
    "deno task serve --run runs/ants-bees --port 9000 --max-batch 32 --max-wait-ms 10",
    "curl -H 'content-type: image/jpeg' --data-binary @bee.jpg 'localhost:8080/predict?topk=2'",
  ],
);

function integer(values: Record<string, unknown>, flag: string, min: number): number {
  const raw = String(values[flag]);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min) {
    throw new UsageError(`--${flag} must be an integer of at least ${min}, not '${raw}'`);
  }
  return n;
}

/** Runs the serve command until SIGTERM/SIGINT; returns the process exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.run === undefined) throw new UsageError("give --run <run directory>");
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const options = {
    hostname: values.host as string,
    port: integer(values, "port", 0),
    maxBatch: integer(values, "max-batch", 1),
    maxWaitMs: integer(values, "max-wait-ms", 0),
    maxBodyBytes: integer(values, "max-body-mb", 1) * 2 ** 20,
    maxPixels: integer(values, "max-pixels", 1),
    maxImages: integer(values, "max-images", 1),
    maxQueue: integer(values, "max-queue", 1),
    topK: integer(values, "top-k", 1),
  };
  if (options.port > 65535) throw new UsageError(`--port must be at most 65535`);
  const backend = await selectBackend(values.backend as "auto", {
    log: (line) => console.error(line),
  });
  const trained = await openTrainedModel(values.run as string);
  const served = serveModel(trained, options);
  const { classes, inputShape } = trained.preprocessing;
  console.error(
    `Serving ${values.run} (${classes.length} classes, ${inputShape.join("×")}) on ` +
      `${backend.name} at ${served.url}  (POST /predict, GET /, /healthz, /metrics)`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: draining the requests in flight…`);
    served.shutdown().catch(() => {});
  };
  const onTerm = () => stop("SIGTERM");
  const onInt = () => stop("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  await served.finished;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  trained.model.dispose();
  console.error("Stopped.");
  return 0;
}
