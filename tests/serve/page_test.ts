import assert from "node:assert/strict";
import { dumpDom, hasChromium } from "../_chromium.ts";
import { BEE, makeRun, type ServeChild, spawnServe, stop } from "./_run.ts";

Deno.test({
  name: "serve: in headless Chromium, the page uploads a photo and shows its label",
  // CI installs Debian's chromium; without it the page cannot be driven.
  ignore: !hasChromium,
  fn: async () => {
    const dir = await makeRun("serve-page-");
    // The photo comes from a second origin, as a user's would from their disk.
    const bee = await Deno.readFile(BEE);
    const photos = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response(bee, {
          headers: { "content-type": "image/jpeg", "access-control-allow-origin": "*" },
        }),
    );
    let served: ServeChild | undefined;
    try {
      served = await spawnServe(dir);
      const direct = await fetch(new URL("/predict?topk=1", served.url), {
        method: "POST",
        headers: { "content-type": "image/jpeg" },
        body: bee,
      });
      const expected: string = (await direct.json()).predictions[0].top[0].label;
      const sample = `http://127.0.0.1:${photos.addr.port}/bee.jpg`;
      const page = new URL(`/?sample=${encodeURIComponent(sample)}`, served.url);
      const dom = await dumpDom(page, ["--virtual-time-budget=10000"]);
      assert.match(dom, /<body data-state="done">/, dom.slice(-2000));
      const first = /<li class="label" data-label="([^"]*)">/.exec(dom)?.[1];
      assert.equal(first, expected);
      assert.match(dom, new RegExp(`${expected} \\d+\\.\\d%`));
    } finally {
      await photos.shutdown();
      await stop(served);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
