import assert from "node:assert/strict";
import { hasChromium } from "./_chromium.ts";
import { WEBGPU_ARGS, withChromiumPage } from "./_cdp.ts";

// Writes a sum, then doubles four floats in a WebGPU compute shader and writes them as JSON.
const PAGE = `<!doctype html>
<link rel="icon" href="data:,">
<p id="sum"></p>
<pre id="result"></pre>
<script type="module">
  document.getElementById("sum").textContent = String([1, 2, 3, 4].reduce((a, b) => a + b));
  console.log("page: sum written");
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  const device = await adapter.requestDevice();
  const code = \`@group(0) @binding(0) var<storage, read_write> data: array<f32>;
    @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3u) {
      data[id.x] = data[id.x] * 2.0;
    }\`;
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const data = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(data, 0, new Float32Array([1, 2.5, -3, 4]));
  const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: data } }],
  }));
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(data, 0, read, 0, 16);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const doubled = [...new Float32Array(read.getMappedRange())];
  const { vendor, architecture, description } = adapter.info;
  document.getElementById("result").textContent =
    JSON.stringify({ adapter: { vendor, architecture, description }, doubled });
</script>`;

/** Serves `PAGE` at / over http on 127.0.0.1 (module scripts do not run from file://). */
async function withPage(fn: (url: string) => Promise<void>): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/"
        ? new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } })
        : new Response("not found", { status: 404 }),
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/`);
  } finally {
    await server.shutdown();
  }
}

Deno.test({
  name: "cdp: a page runs a WebGPU compute shader in headless Chromium",
  ignore: !hasChromium,
  fn: () =>
    withPage(async (url) => {
      const result = await withChromiumPage(url, { args: WEBGPU_ARGS }, async (page) => {
        const json = await page.waitFor<string>(
          `document.getElementById("result").textContent`,
          15_000,
        );
        assert.equal(await page.evaluate(`document.getElementById("sum").textContent`), "10");
        assert.ok(page.console.includes("log: page: sum written"), page.console.join("\n"));
        return JSON.parse(json);
      });
      assert.deepEqual(result.doubled, [2, 5, -6, 8]);
      assert.equal(typeof result.adapter.vendor, "string");
      assert.ok(result.adapter.vendor || result.adapter.architecture, JSON.stringify(result));
    }),
});

Deno.test({
  name: "cdp: exceptions reject evaluate, and a waitFor timeout shows the console",
  ignore: !hasChromium,
  fn: () =>
    withPage(async (url) => {
      await withChromiumPage(url, {}, async (page) => {
        assert.deepEqual(await page.evaluate(`({ a: [1, 2], b: "x" })`), { a: [1, 2], b: "x" });
        assert.equal(await page.evaluate(`new Promise((r) => setTimeout(() => r(7), 10))`), 7);
        await assert.rejects(page.evaluate(`throw new Error("boom")`), /Error: boom/);
        await assert.rejects(page.evaluate(`Promise.reject(new Error("nope"))`), /nope/);
        await assert.rejects(
          page.waitFor(`document.getElementById("missing")`, 600),
          (e: Error) => {
            assert.match(e.message, /timed out after 600 ms/);
            assert.match(e.message, /^log: page: sum written$/m);
            return true;
          },
        );
      });
    }),
});

Deno.test({
  name: "cdp: the page's timeout ends Chromium and rejects",
  ignore: !hasChromium,
  fn: () =>
    withPage(async (url) => {
      await assert.rejects(
        withChromiumPage(url, { timeoutMs: 2_500 }, (page) => page.waitFor("false", 60_000)),
        /timed out after 2500 ms/,
      );
    }),
});
