import assert from "node:assert/strict";
import {
  createModel,
  encodePng,
  normalize,
  type ServedModel,
  serveModel,
  type TrainedModel,
  transformFromSpec,
  useBackend,
} from "../../mod.ts";
import { BEE, CLASSES } from "./_run.ts";

async function tinyServer(options: Parameters<typeof serveModel>[1] = {}) {
  await useBackend("wasm");
  const norm = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const spec = { name: norm.name, options: norm.options };
  const trained: TrainedModel = {
    model: createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 3, seed: 0 }),
    preprocessing: { classes: CLASSES, inputShape: [32, 32, 3], transform: spec },
    transform: transformFromSpec(spec),
    modelDir: "(in memory)",
  };
  const served = serveModel(trained, { hostname: "127.0.0.1", port: 0, ...options });
  return {
    served,
    close: async () => {
      await served.shutdown();
      trained.model.dispose();
    },
  };
}

const png = (width: number, height: number) =>
  encodePng({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(90) })
    .slice() as Uint8Array<ArrayBuffer>;

/** A PNG whose header declares 100,000 × 100,000 pixels (with a tiny, valid IDAT). */
function bomb(): Uint8Array<ArrayBuffer> {
  const real = png(1, 1);
  const bytes = real.slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(16, 100_000);
  view.setUint32(20, 100_000);
  return bytes;
}

async function post(served: ServedModel, body: BodyInit | null, type?: string, query = "") {
  const response = await fetch(new URL(`/predict${query}`, served.url), {
    method: "POST",
    headers: type === undefined ? {} : { "content-type": type },
    body,
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("serve: a JPEG body gets top-k JSON; multipart images each get theirs", async () => {
  const { served, close } = await tinyServer();
  try {
    const bee = await Deno.readFile(BEE);
    const one = await post(served, bee, "image/jpeg", "?topk=2");
    assert.equal(one.status, 200);
    assert.equal(one.body.predictions.length, 1);
    assert.equal(one.body.predictions[0].top.length, 2);
    assert.ok(CLASSES.includes(one.body.predictions[0].top[0].label));
    const sum = one.body.predictions[0].top.reduce(
      (s: number, t: { probability: number }) => s + t.probability,
      0,
    );
    assert.ok(sum > 0 && sum <= 1.0001);

    const form = new FormData();
    form.append("a", new File([bee], "bee.jpg", { type: "image/jpeg" }));
    form.append("b", new File([png(40, 30)], "grey.png", { type: "image/png" }));
    form.append("note", "fields that are not files are ignored");
    const many = await post(served, form, undefined, "?topk=9");
    assert.equal(many.status, 200);
    assert.deepEqual(many.body.predictions.map((p: { name: string }) => p.name), [
      "bee.jpg",
      "grey.png",
    ]);
    assert.equal(many.body.predictions[0].top.length, 3, "topk is capped at the classes");
    // The same image alone and in a batch gets the same probabilities.
    assert.ok(
      Math.abs(
        many.body.predictions[0].top[0].probability - one.body.predictions[0].top[0]
          .probability,
      ) < 1e-5,
    );
  } finally {
    await close();
  }
});

Deno.test("serve: each bad request gets a 4xx with a reason, and a good one works after it", async () => {
  const { served, close } = await tinyServer({ maxBodyBytes: 1 << 20, maxPixels: 1_000_000 });
  try {
    const bee = await Deno.readFile(BEE);
    const cases: [string, () => Promise<{ status: number; body: { error?: string } }>, number[]][] =
      [
        ["not an image", () => post(served, "hello, world", "image/jpeg"), [415]],
        ["a GIF", () => post(served, "GIF89a\x01\x00\x01\x00", "image/png"), [415]],
        ["a corrupt JPEG", () => post(served, bee.slice(0, 2000), "image/jpeg"), [400, 422]],
        ["a corrupt PNG", () => post(served, png(8, 8).slice(0, 40), "image/png"), [400, 422]],
        ["a decompression bomb", () => post(served, bomb(), "image/png"), [413, 422]],
        ["an oversized body", () => post(served, new Uint8Array(2 << 20), "image/jpeg"), [413]],
        // No Content-Length and no end: only a check while streaming can answer this.
        ["an endless streamed body", async () => {
          // No Content-Length and no end until the answer comes: only a check made while the
          // body streams in can answer this.
          let answered = false;
          const endless = new ReadableStream<Uint8Array>({
            pull: (controller) => {
              if (answered) controller.close();
              else controller.enqueue(new Uint8Array(64 * 1024));
            },
          });
          const r = await fetch(new URL("/predict", served.url), {
            method: "POST",
            headers: { "content-type": "image/jpeg" },
            body: endless,
          });
          answered = true;
          return { status: r.status, body: await r.json() };
        }, [413]],
        ["the wrong content type", () => post(served, bee, "application/json"), [415]],
        ["an empty body", () => post(served, null, "image/jpeg"), [400]],
        ["bad multipart", () => post(served, "--x\r\nnope", "multipart/form-data; boundary=x"), [
          400,
        ]],
        ["a multipart part that is not an image", () => {
          const form = new FormData();
          form.append("a", new File([bee], "bee.jpg"));
          form.append("b", new File(["just text"], "notes.txt"));
          return post(served, form);
        }, [415]],
        ["a bad topk", () => post(served, bee, "image/jpeg", "?topk=0"), [400]],
        ["an unknown path", async () => {
          const r = await fetch(new URL("/nope", served.url));
          return { status: r.status, body: await r.json() };
        }, [404]],
        ["the wrong method", async () => {
          const r = await fetch(new URL("/predict", served.url));
          assert.equal(r.headers.get("allow"), "POST");
          return { status: r.status, body: await r.json() };
        }, [405]],
        ["POST to the page", async () => {
          const r = await fetch(served.url, { method: "POST", body: "x" });
          return { status: r.status, body: await r.json() };
        }, [405]],
      ];
    for (const [what, send, statuses] of cases) {
      const { status, body } = await send();
      assert.ok(statuses.includes(status), `${what}: status ${status}, ${JSON.stringify(body)}`);
      assert.equal(typeof body.error, "string", what);
      assert.ok(!body.error!.includes("\n"), `${what}: one line`);
      assert.match(body.error!, /^(request body|part "notes.txt"|\/nope|GET|POST|\?topk)/, what);
      const good = await post(served, bee, "image/jpeg");
      assert.equal(good.status, 200, `a good request after ${what}`);
    }
    const metrics = await (await fetch(new URL("/metrics", served.url))).text();
    assert.match(metrics, /denovision_http_requests_total\{path="\/predict",code="415"\} 4/);
    assert.match(metrics, /denovision_errors_total\{reason="body-too-large"\} 2/);
    assert.match(metrics, /denovision_errors_total\{reason="too-large"\} 1/);
  } finally {
    await close();
  }
});

Deno.test("serve: concurrent requests within the wait run as one batch", async () => {
  const { served, close } = await tinyServer({ maxBatch: 8, maxWaitMs: 200 });
  try {
    const bee = await Deno.readFile(BEE);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(served, bee, "image/jpeg", "?topk=1")),
    );
    assert.ok(answers.every((a) => a.status === 200));
    const metrics = await (await fetch(new URL("/metrics", served.url))).text();
    assert.match(metrics, /denovision_batch_size_count 1\n/, metrics);
    assert.match(metrics, /denovision_batch_size_sum 6\n/);
    assert.match(
      metrics,
      /denovision_http_request_duration_seconds_bucket\{le="10",path="\/predict"\} 6/,
    );
  } finally {
    await close();
  }
});

Deno.test("serve: the page, /healthz and HEAD", async () => {
  const { served, close } = await tinyServer();
  try {
    const page = await fetch(served.url);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    const html = await page.text();
    assert.match(html, /<input id="pick" type="file"/);
    assert.doesNotMatch(html, /(src|href)="https?:/, "no CDN");
    const health = await (await fetch(new URL("/healthz", served.url))).json();
    assert.deepEqual([health.status, health.classes, health.inputShape], ["ok", 3, [32, 32, 3]]);
    const head = await fetch(new URL("/healthz", served.url), { method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
  } finally {
    await close();
  }
});
