// Internal: the load generator behind `deno task bench serve` and the long serve test: N
// concurrent fetch loops posting one image for D seconds, with each request's latency.

/** What to drive and for how long. */
export interface LoadOptions {
  /** The predict endpoint, such as `http://127.0.0.1:8080/predict`. */
  url: string;
  /** The image to post. */
  image: Uint8Array<ArrayBuffer>;
  /** Its content type. Default: image/jpeg. */
  contentType?: string;
  /** Concurrent request loops. */
  concurrency: number;
  /** Measured seconds. */
  seconds: number;
  /** Seconds of load before measuring (not counted). Default: 0. */
  warmupSeconds?: number;
}

/** What came back. */
export interface LoadResult {
  /** Requests completed in the measured window, by status ("error" for a failed fetch). */
  statuses: Record<string, number>;
  /** Latencies of the measured 200s, in milliseconds, sorted. */
  latencies: number[];
  /** Seconds the measured window lasted. */
  seconds: number;
  /** The first failure's message, if any. */
  firstError?: string;
}

/** Drives the server; resolves once every loop has finished its last request. */
export async function driveServer(options: LoadOptions): Promise<LoadResult> {
  const warmupMs = (options.warmupSeconds ?? 0) * 1000;
  const begin = performance.now();
  const measureFrom = begin + warmupMs;
  const end = measureFrom + options.seconds * 1000;
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let firstError: string | undefined;
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      let status: string;
      try {
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "content-type": options.contentType ?? "image/jpeg" },
          body: options.image,
        });
        const text = await response.text();
        status = String(response.status);
        if (response.status !== 200) firstError ??= `${response.status} ${text.trim()}`;
      } catch (error) {
        status = "error";
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      const done = performance.now();
      if (start >= measureFrom && done <= end) {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === "200") latencies.push(done - start);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  latencies.sort((a, b) => a - b);
  return { statuses, latencies, seconds: options.seconds, firstError };
}

/** The p-th percentile of sorted values. */
export const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
