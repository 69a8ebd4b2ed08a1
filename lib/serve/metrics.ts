/**
 * The server's Prometheus metrics (prom-client, one registry per server): requests by path and
 * status, a latency histogram, errors by reason, batch sizes and the queue's length.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Latency buckets, in seconds. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Batch size buckets, in images. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/**
 * Counters and histograms for one server, exposed in Prometheus' text format by
 * {@linkcode ServeMetrics.text}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServeMetrics } from "./metrics.ts";
 * const metrics = new ServeMetrics();
 * metrics.observeRequest("/predict", 200, 0.012);
 * metrics.observeBatch(3);
 * const text = await metrics.text();
 * assert.match(text, /process_resident_memory_bytes \d+/);
 * assert.match(text, /denovision_http_requests_total\{path="\/predict",code="200"\} 1/);
 * assert.match(text, /denovision_batch_size_sum 3/);
 * ```
 */
export class ServeMetrics {
  /** The content type of {@linkcode ServeMetrics.text}'s output. */
  readonly contentType: string;
  readonly #registry = new Registry();
  readonly #requests: Counter<"path" | "code">;
  readonly #latency: Histogram<"path">;
  readonly #errors: Counter<"reason">;
  readonly #batches: Histogram;
  readonly #images: Counter;
  readonly #queue: Gauge;
  readonly #tensors: Gauge;

  /** Creates the metrics in a registry of their own. */
  constructor() {
    const registers = [this.#registry];
    this.contentType = this.#registry.contentType;
    this.#requests = new Counter({
      name: "denovision_http_requests_total",
      help: "HTTP requests answered, by path and status code.",
      labelNames: ["path", "code"],
      registers,
    });
    this.#latency = new Histogram({
      name: "denovision_http_request_duration_seconds",
      help: "Time from a request's arrival to its response, by path.",
      labelNames: ["path"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#errors = new Counter({
      name: "denovision_errors_total",
      help: "Requests refused or failed, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.#batches = new Histogram({
      name: "denovision_batch_size",
      help: "Images per model forward pass (micro-batches).",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.#images = new Counter({
      name: "denovision_images_total",
      help: "Images classified.",
      registers,
    });
    this.#queue = new Gauge({
      name: "denovision_queue_images",
      help: "Images waiting for a batch.",
      registers,
    });
    this.#tensors = new Gauge({
      name: "denovision_tensors",
      help: "Live tensors after the last batch (flat when nothing leaks).",
      registers,
    });
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }

  /** Counts one answered request and its latency in seconds. */
  observeRequest(path: string, status: number, seconds: number): void {
    this.#requests.inc({ path, code: String(status) });
    this.#latency.observe({ path }, seconds);
  }

  /** Counts one refused or failed request. */
  countError(reason: string): void {
    this.#errors.inc({ reason });
  }

  /** Records one forward pass of `size` images. */
  observeBatch(size: number): void {
    this.#batches.observe(size);
    this.#images.inc(size);
  }

  /** Sets the number of images waiting for a batch. */
  setQueue(images: number): void {
    this.#queue.set(images);
  }

  /** Sets the number of live tensors. */
  setTensors(count: number): void {
    this.#tensors.set(count);
  }

  /** Every metric in Prometheus' text exposition format. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }
}
