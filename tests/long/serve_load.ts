// Serve under load (`deno task test:long`): `deno task serve` (a child process, the task's own
// permissions) takes 60 s of 8 concurrent clients posting a real photo. Every request must get a
// 200, the child's RSS must level off and its live tensors stay flat (both read from its
// /metrics), and SIGTERM must still stop it cleanly. Prints the
// figures RELIABILITY.md records.
import assert from "node:assert/strict";
import { driveServer, percentile } from "../../bench/_serve_load.ts";
import { BEE, makeRun, type ServeChild, spawnServe, stop } from "../serve/_run.ts";

const SECONDS = 60;
const CONCURRENCY = 8;

/** The child's resident memory (MB) and live tensors, from its /metrics. */
async function sample(url: string): Promise<[number, number]> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  const rss = Number(/^process_resident_memory_bytes (\S+)/m.exec(text)?.[1]) / 2 ** 20;
  return [Math.round(rss), Number(/^denovision_tensors (\S+)/m.exec(text)?.[1])];
}

Deno.test(`serve: ${SECONDS} s of ${CONCURRENCY} concurrent clients, no error`, async () => {
  const dir = await makeRun("serve-load-");
  let served: ServeChild | undefined;
  try {
    served = await spawnServe(dir, ["--max-batch", "16", "--max-wait-ms", "5"]);
    const url = served.url;
    const image = await Deno.readFile(BEE);
    const samples: number[] = [];
    const tensors: number[] = [];
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sample(url).then(([mb, count]) => {
        samples.push(mb);
        tensors.push(count);
      });
    }, 5000);
    const result = await driveServer({
      url: new URL("/predict", served.url).href,
      image,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      warmupSeconds: 2,
    }).finally(() => clearInterval(sampler));
    await sampling;
    const ok = result.statuses["200"] ?? 0;
    const total = Object.values(result.statuses).reduce((a, b) => a + b, 0);
    const metrics = await (await fetch(new URL("/metrics", served.url))).text();
    const batches = Number(/^denovision_batch_size_count (\S+)/m.exec(metrics)?.[1]);
    const images = Number(/^denovision_batch_size_sum (\S+)/m.exec(metrics)?.[1]);
    console.log(JSON.stringify({
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      requests: total,
      ok,
      statuses: result.statuses,
      qps: Math.round(ok / SECONDS),
      p50_ms: Math.round(percentile(result.latencies, 50)),
      p99_ms: Math.round(percentile(result.latencies, 99)),
      mean_batch: Math.round((images / batches) * 100) / 100,
      rss_mb: samples,
      tensors: [...new Set(tensors)],
    }));
    assert.equal(
      ok,
      total,
      `non-200 answers: ${JSON.stringify(result.statuses)}; ${result.firstError}`,
    );
    assert.ok(total > SECONDS, `only ${total} requests in ${SECONDS} s`);
    assert.doesNotMatch(metrics, /code="5\d\d"/);
    assert.equal(new Set(tensors).size, 1, `live tensors changed: ${tensors}`);
    if (samples.length >= 6) {
      // After warm-up, memory stays within 25% of where it was at 15 s.
      const settled = samples[2];
      const last = samples[samples.length - 1];
      assert.ok(last < settled * 1.25, `RSS grew from ${settled} to ${last} MB`);
    }
    served.child.kill("SIGTERM");
    const status = await served.status;
    assert.equal(status.code, 0, served.stderr());
  } finally {
    await stop(served);
    await Deno.remove(dir, { recursive: true });
  }
});
