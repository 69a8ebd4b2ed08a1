/**
 * The HTTP server: `POST /predict` with micro-batching, a page at `/`, `/healthz` and
 * `/metrics`, on `Deno.serve`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { decodeImage } from "../decode/decode.ts";
import { DecodeError } from "../decode/errors.ts";
import { basename } from "../_internal/path.ts";
import { preprocessImage, topClasses, type TrainedModel } from "../run/trained.ts";
import { MicroBatcher } from "./batcher.ts";
import { RequestError } from "./errors.ts";
import { ServeMetrics } from "./metrics.ts";
import { readUploads, type Upload } from "./_body.ts";
import { pageHtml } from "./_page.ts";

/** Options for {@linkcode createPredictService} and {@linkcode serveModel}. */
export interface ServeOptions {
  /** Address to listen on. Default: `0.0.0.0` (every interface). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. Default: 8080. */
  port?: number;
  /** The most images in one forward pass. Default: 16. */
  maxBatch?: number;
  /** How long the first image of a batch waits for others, in milliseconds. Default: 5. */
  maxWaitMs?: number;
  /** The largest request body, in bytes; checked while it streams in. Default: 20 MiB. */
  maxBodyBytes?: number;
  /** The most pixels an image may declare (a decompression bomb's guard). Default: 50 million. */
  maxPixels?: number;
  /** The most images in one multipart request. Default: 32. */
  maxImages?: number;
  /** Images waiting for a batch beyond which requests get 503. Default: 256. */
  maxQueue?: number;
  /** How long shutdown waits for uploads still in flight, in milliseconds. Default: 30,000. */
  drainTimeoutMs?: number;
  /** Labels per image when the request has no `?topk=`. Default: 5. */
  topK?: number;
  /**
   * The model's name for `/healthz` and the page. Default: the architecture the run built, or
   * its folder.
   */
  name?: string;
  /** Hears of unexpected failures (500s), one line each. Default: console.error. */
  log?: (line: string) => void;
}

/** The request handler and what it keeps, without a listening socket. */
export interface PredictService {
  /** Answers one request; never throws. */
  handler: (request: Request) => Promise<Response>;
  /** The metrics `/metrics` shows. */
  metrics: ServeMetrics;
  /** Runs the images waiting for a batch now. */
  flush: () => Promise<void>;
  /**
   * Refuses new requests (503, and `/healthz` says `draining`) and resolves once no request in
   * flight is still reading its body; those go on to be answered.
   */
  drain: () => Promise<void>;
}

const PATHS: Record<string, string[]> = {
  "/": ["GET", "HEAD"],
  "/healthz": ["GET", "HEAD"],
  "/metrics": ["GET", "HEAD"],
  "/predict": ["POST"],
};

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });

/** The HTTP status a decode failure answers with. */
function decodeStatus(error: DecodeError): number {
  switch (error.reason) {
    case "unknown-format":
    case "unsupported-format":
      return 415;
    case "too-large":
      return 413;
    default:
      return 422;
  }
}

/**
 * The server's request handler for `trained`, usable with any `Deno.serve` (or called directly):
 * `POST /predict` (a JPEG/PNG body or multipart images; `?topk=N`) answers
 * `{ predictions: [{ name, top: [{ label, index, probability }] }], ms }`, and bad requests get a
 * 4xx with `{ error }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPredictService } from "./server.ts";
 * import { createModel } from "../models/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import { useBackend } from "../backend/mod.ts";
 * await useBackend("cpu");
 * const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * const model = createModel("compact-cnn", { inputShape: [8, 8, 3], numClasses: 2, seed: 0 });
 * const service = createPredictService({
 *   model,
 *   preprocessing: { classes: ["ant", "bee"], inputShape: [8, 8, 3], transform },
 *   transform,
 *   modelDir: "(in memory)",
 * });
 * // A 1×1 red PNG, resized to the model's 8×8.
 * const png = Uint8Array.from(atob(
 *   "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
 * ), (c) => c.charCodeAt(0));
 * const response = await service.handler(new Request("http://localhost/predict?topk=1", {
 *   method: "POST",
 *   headers: { "content-type": "image/png" },
 *   body: png,
 * }));
 * const { predictions } = await response.json();
 * assert.equal(predictions[0].top.length, 1);
 * const bad = await service.handler(new Request("http://localhost/predict", { method: "POST" }));
 * assert.equal(bad.status, 400);
 * model.dispose();
 * ```
 */
export function createPredictService(
  trained: TrainedModel,
  options: ServeOptions = {},
): PredictService {
  const { classes, inputShape } = trained.preprocessing;
  const [height, width, channels] = inputShape;
  const limits = {
    maxBodyBytes: options.maxBodyBytes ?? 20 * 2 ** 20,
    maxImages: options.maxImages ?? 32,
  };
  const maxPixels = options.maxPixels ?? 50_000_000;
  const maxQueue = options.maxQueue ?? 256;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const defaultTopK = options.topK ?? 5;
  const log = options.log ?? ((line: string) => console.error(line));
  const name = options.name ?? trained.origin?.architecture ?? trained.config?.model ??
    basename(trained.modelDir);
  // Where the weights came from (a .pth, torchvision:<name>, a TF.js model; none: trained from
  // scratch); null when the run does not say.
  const weights = trained.origin?.source ?? null;
  const metrics = new ServeMetrics();
  const page = pageHtml(name, classes.length);
  let draining = false;
  let reading = 0;
  const bodiesRead: (() => void)[] = [];

  const batcher = new MicroBatcher<Float32Array, Float32Array>({
    maxBatch: options.maxBatch ?? 16,
    maxWaitMs: options.maxWaitMs ?? 5,
    onBatch: (size) => metrics.observeBatch(size),
    process: async (inputs) => {
      const size = height * width * channels;
      const pixels = new Float32Array(inputs.length * size);
      inputs.forEach((input, i) => pixels.set(input, i * size));
      const probabilities = tf.tidy(() =>
        tf.softmax(
          trained.model.predict(
            tf.tensor4d(pixels, [inputs.length, height, width, channels]),
          ) as tf.Tensor2D,
        )
      );
      try {
        const values = await probabilities.data() as Float32Array;
        return inputs.map((_, i) => values.slice(i * classes.length, (i + 1) * classes.length));
      } finally {
        probabilities.dispose();
        metrics.setTensors(tf.memory().numTensors);
      }
    },
  });

  function prepare(upload: Upload): Float32Array {
    const what = upload.part ? `part "${upload.name}"` : "request body";
    try {
      const image = decodeImage(upload.bytes, { channels: channels as 1 | 3, maxPixels });
      return preprocessImage(trained, image);
    } catch (error) {
      if (error instanceof DecodeError) {
        const detail = error.detail.replace("(maxPixels)", "(--max-pixels)");
        throw new RequestError(decodeStatus(error), error.reason, `${what}: ${detail}`);
      }
      throw error;
    }
  }

  function parseTopK(url: URL): number {
    const raw = url.searchParams.get("topk");
    if (raw === null) return defaultTopK;
    const k = Number(raw);
    if (!/^\d+$/.test(raw) || k < 1) {
      throw new RequestError(400, "bad-topk", `?topk=${raw}: not a positive integer`);
    }
    return Math.min(k, classes.length);
  }

  async function predict(request: Request, url: URL): Promise<Response> {
    const started = performance.now();
    const k = parseTopK(url);
    if (batcher.pending >= maxQueue) {
      throw new RequestError(
        503,
        "busy",
        `server busy: ${batcher.pending} images waiting (--max-queue ${maxQueue}); retry shortly`,
      );
    }
    let uploads: Upload[];
    reading++;
    try {
      uploads = await readUploads(request, limits);
    } finally {
      if (--reading === 0) { for (const resolve of bodiesRead.splice(0)) resolve(); }
    }
    const inputs = uploads.map(prepare);
    const pending = inputs.map((input) => batcher.submit(input));
    metrics.setQueue(batcher.pending);
    const rows = await Promise.all(pending);
    metrics.setQueue(batcher.pending);
    return json({
      predictions: uploads.map((upload, i) => ({
        name: upload.name,
        top: topClasses(rows[i], classes, k),
      })),
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }

  async function route(request: Request, url: URL): Promise<Response> {
    const methods = PATHS[url.pathname];
    if (methods === undefined) {
      throw new RequestError(
        404,
        "not-found",
        `${url.pathname}: no such path; try POST /predict, GET /, /healthz or /metrics`,
      );
    }
    if (!methods.includes(request.method)) {
      metrics.countError("method-not-allowed");
      return json(
        { error: `${request.method} ${url.pathname}: method not allowed; use ${methods[0]}` },
        405,
        { allow: methods.join(", ") },
      );
    }
    if (draining && url.pathname !== "/metrics") {
      metrics.countError("draining");
      return json(
        url.pathname === "/healthz"
          ? { status: "draining" }
          : { error: "server shutting down; retry on another instance" },
        503,
        { connection: "close" },
      );
    }
    switch (url.pathname) {
      case "/":
        return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
      case "/healthz":
        return json({
          status: "ok",
          model: name,
          weights,
          classes: classes.length,
          inputShape,
          backend: tf.getBackend(),
        });
      case "/metrics":
        return new Response(await metrics.text(), {
          headers: { "content-type": metrics.contentType },
        });
      default:
        return await predict(request, url);
    }
  }

  async function handler(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await route(request, url);
    } catch (error) {
      if (error instanceof RequestError) {
        metrics.countError(error.reason);
        response = json(
          { error: error.message },
          error.status,
          error.status === 503 ? { "retry-after": "1" } : {},
        );
      } else {
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        metrics.countError("internal");
        log(`serve: ${request.method} ${url.pathname}: ${message}`);
        response = json({ error: `internal error: ${message}` }, 500);
      }
    }
    const path = PATHS[url.pathname] === undefined ? "other" : url.pathname;
    metrics.observeRequest(path, response.status, (performance.now() - started) / 1000);
    return response;
  }

  const drain = async () => {
    draining = true;
    if (reading > 0) {
      // A client that never finishes its upload holds shutdown for at most drainTimeoutMs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => bodiesRead.push(resolve)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, drainTimeoutMs)),
      ]);
      clearTimeout(timer);
    }
    await batcher.flush();
  };
  return { handler, metrics, flush: () => batcher.flush(), drain };
}

/** A listening server (see {@linkcode serveModel}). */
export interface ServedModel {
  /** The base URL, such as `http://127.0.0.1:8080/`. */
  url: string;
  /** The port it listens on (the one picked, for port 0). */
  port: number;
  /** The handler and its metrics. */
  service: PredictService;
  /** Stops accepting connections and resolves once the requests in flight are answered. */
  shutdown: () => Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Serves `trained` over HTTP with `Deno.serve` (see {@linkcode createPredictService} for the
 * endpoints); `shutdown()` drains the requests in flight.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveModel } from "./server.ts";
 * import { createModel } from "../models/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import { useBackend } from "../backend/mod.ts";
 * await useBackend("cpu");
 * const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * const model = createModel("compact-cnn", { inputShape: [8, 8, 3], numClasses: 2, seed: 0 });
 * const served = serveModel({
 *   model,
 *   preprocessing: { classes: ["ant", "bee"], inputShape: [8, 8, 3], transform },
 *   transform,
 *   modelDir: "(in memory)",
 * }, { hostname: "127.0.0.1", port: 0 });
 * const health = await (await fetch(new URL("/healthz", served.url))).json();
 * assert.equal(health.status, "ok");
 * await served.shutdown();
 * model.dispose();
 * ```
 */
export function serveModel(trained: TrainedModel, options: ServeOptions = {}): ServedModel {
  const service = createPredictService(trained, options);
  const hostname = options.hostname ?? "0.0.0.0";
  const server = Deno.serve({
    hostname,
    port: options.port ?? 8080,
    onListen: () => {},
    handler: service.handler,
  });
  const { port } = server.addr;
  const host = hostname === "0.0.0.0"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return {
    url: `http://${host}:${port}/`,
    port,
    service,
    // Deno 2.9's shutdown() makes the bodies of requests in flight unreadable (denoland/deno
    // #36809), so the requests still uploading are let finish reading first.
    shutdown: async () => {
      await service.drain();
      await server.shutdown();
    },
    finished: server.finished,
  };
}
