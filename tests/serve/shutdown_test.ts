import assert from "node:assert/strict";
import { BEE, makeRun, type ServeChild, spawnServe, stop } from "./_run.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("serve: SIGTERM answers the request in flight before the server exits", async () => {
  const dir = await makeRun("serve-term-");
  let served: ServeChild | undefined;
  try {
    served = await spawnServe(dir);
    const bee = await Deno.readFile(BEE);
    const half = bee.length >> 1;
    let firstHalfSent: () => void = () => {};
    const started = new Promise<void>((resolve) => firstHalfSent = resolve);
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => release = resolve);
    // A slow upload: half the photo, then the rest only after the signal.
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bee.slice(0, half));
        firstHalfSent();
        await released;
        controller.enqueue(bee.slice(half));
        controller.close();
      },
    });
    const answer = fetch(new URL("/predict?topk=1", served.url), {
      method: "POST",
      headers: { "content-type": "image/jpeg" },
      body,
    });
    await started;
    await sleep(300);
    served.child.kill("SIGTERM");
    await sleep(500);
    assert.match(served.stderr(), /SIGTERM: draining/);
    release();
    const response = await answer;
    assert.equal(response.status, 200, await response.clone().text());
    const { predictions } = await response.json();
    assert.equal(predictions[0].top.length, 1);
    const status = await served.status;
    assert.equal(status.code, 0, served.stderr());
    assert.match(served.stderr(), /Stopped\./);
    await assert.rejects(fetch(new URL("/healthz", served.url)));
  } finally {
    await stop(served);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: SIGINT (Ctrl-C) stops an idle server cleanly", async () => {
  const dir = await makeRun("serve-int-");
  let served: ServeChild | undefined;
  try {
    served = await spawnServe(dir);
    const health = await fetch(new URL("/healthz", served.url));
    assert.equal((await health.json()).status, "ok");
    served.child.kill("SIGINT");
    const status = await served.status;
    assert.equal(status.code, 0, served.stderr());
    assert.match(served.stderr(), /SIGINT: draining[^]*Stopped\./);
  } finally {
    await stop(served);
    await Deno.remove(dir, { recursive: true });
  }
});
