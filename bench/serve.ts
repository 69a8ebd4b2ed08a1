// `deno task bench serve`: QPS and p50/p99 latency of `POST /predict` under N concurrent clients
// (fetch loops in a worker thread) for D seconds, per model, with the server in this process and
// random weights (throughput only; the labels mean nothing). --url drives any other server with
// the same client instead (bench/torch_serve.py, or a running `deno task serve`).
// Run: deno task bench serve [--model compact-cnn,mobilenetv2 | --run DIR | --url URL]
//      [--concurrency 8] [--duration 15] [--warmup 3] [--max-batch 16] [--max-wait-ms 5]
import { parseArgs } from "node:util";
import {
  centerCrop,
  compose,
  createModel,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  openTrainedModel,
  parseBackendChoice,
  resize,
  selectBackend,
  serveModel,
  type TrainedModel,
} from "../mod.ts";
import { type LoadOptions, type LoadResult, percentile } from "./_serve_load.ts";

/** Each model's input side and the short side it is resized to, as its preprocessing would. */
const SIDES: Record<string, [number, number]> = {
  "compact-cnn": [32, 32],
  mobilenetv2: [224, 256],
};

function randomModel(name: string, side?: number): TrainedModel {
  const [crop, short] = side === undefined ? SIDES[name] ?? [224, 256] : [side, side];
  const transform = compose([
    resize(short),
    centerCrop(crop),
    normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }),
  ]);
  const numClasses = name === "compact-cnn" ? 10 : 1000;
  return {
    model: createModel(name, { inputShape: [crop, crop, 3], numClasses, seed: 0 }),
    preprocessing: {
      classes: Array.from({ length: numClasses }, (_, i) => `class ${i}`),
      inputShape: [crop, crop, 3],
      transform: { name: transform.name, options: transform.options },
    },
    transform,
    modelDir: "(random weights)",
  };
}

/** Runs the load generator in a worker thread. */
function driveInWorker(options: LoadOptions): Promise<LoadResult> {
  const worker = new Worker(new URL("./_serve_worker.ts", import.meta.url), { type: "module" });
  return new Promise<LoadResult>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<LoadResult>) => {
      resolve(event.data);
      worker.terminate();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`load worker: ${event.message}`));
      worker.terminate();
    };
    worker.postMessage(options);
  });
}

function summarize(result: LoadResult, extra: Record<string, unknown>): Record<string, unknown> {
  const ok = result.statuses["200"] ?? 0;
  const total = Object.values(result.statuses).reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    ...extra,
    qps: round(ok / result.seconds),
    p50_ms: round(percentile(result.latencies, 50)),
    p99_ms: round(percentile(result.latencies, 99)),
    requests: total,
    errors: total - ok,
    ...(result.firstError === undefined ? {} : { first_error: result.firstError }),
  };
}

/** Measures each model (or the given server); returns the figures. */
export async function runServeBench(args: string[] = Deno.args): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string", default: "compact-cnn,mobilenetv2" },
      run: { type: "string" },
      url: { type: "string" },
      "img-size": { type: "string" },
      concurrency: { type: "string", default: "8" },
      duration: { type: "string", default: "15" },
      warmup: { type: "string", default: "3" },
      "max-batch": { type: "string", default: "16" },
      "max-wait-ms": { type: "string", default: "5" },
      backend: { type: "string", default: "auto" },
      image: {
        type: "string",
        default: "../shared/datasets/hymenoptera/val/bees/1032546534_06907fe3b3.jpg",
      },
      "fail-on-error": { type: "boolean", default: false },
    },
  });
  const image = await Deno.readFile(values.image!);
  const load = {
    image,
    concurrency: Number(values.concurrency),
    seconds: Number(values.duration),
    warmupSeconds: Number(values.warmup),
  };
  const common = {
    concurrency: load.concurrency,
    duration_s: load.seconds,
    image: values.image,
  };
  const results: Record<string, unknown>[] = [];
  if (values.url !== undefined) {
    const result = await driveInWorker({ ...load, url: values.url });
    results.push(summarize(result, { server: values.url }));
  } else {
    const backend = await selectBackend(parseBackendChoice(values.backend!), {
      log: (line) => console.error(line),
    });
    const targets = values.run !== undefined ? [values.run] : values.model!.split(",");
    for (const target of targets) {
      const trained = values.run !== undefined
        ? await openTrainedModel(target)
        : randomModel(target, values["img-size"] ? Number(values["img-size"]) : undefined);
      const served = serveModel(trained, {
        hostname: "127.0.0.1",
        port: 0,
        maxBatch: Number(values["max-batch"]),
        maxWaitMs: Number(values["max-wait-ms"]),
        log: (line) => console.error(line),
      });
      try {
        console.error(
          `${target}: ${load.concurrency} clients for ${load.seconds} s (+${load.warmupSeconds} s ` +
            `warm-up) on ${backend.name}…`,
        );
        const result = await driveInWorker({ ...load, url: new URL("/predict", served.url).href });
        const metrics = await served.service.metrics.text();
        const sum = Number(/^denovision_batch_size_sum (\S+)/m.exec(metrics)?.[1]);
        const count = Number(/^denovision_batch_size_count (\S+)/m.exec(metrics)?.[1]);
        results.push(summarize(result, {
          model: target,
          input: trained.preprocessing.inputShape.join("×"),
          weights: values.run !== undefined ? "trained" : "random",
          backend: backend.name,
          max_batch: Number(values["max-batch"]),
          max_wait_ms: Number(values["max-wait-ms"]),
          mean_batch: Math.round((sum / count) * 100) / 100,
        }));
      } finally {
        await served.shutdown();
        trained.model.dispose();
      }
    }
  }
  for (const r of results) {
    console.error(
      `${r.model ?? r.server}: ${r.qps} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  ` +
        `${r.requests} requests, ${r.errors} errors` +
        (r.mean_batch === undefined ? "" : `, mean batch ${r.mean_batch}`),
    );
  }
  const errors = results.reduce((n, r) => n + (r.errors as number), 0);
  if (values["fail-on-error"] && errors > 0) {
    throw new Error(
      `${errors} requests failed; first: ${results.find((r) => r.first_error)?.first_error}`,
    );
  }
  return { benchmark: "serve", ...common, results };
}

if (import.meta.main) console.log(JSON.stringify(await runServeBench()));
