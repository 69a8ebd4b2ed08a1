// Checks in a real browser that our TF.js export loads unchanged with tf.loadLayersModel: it
// exports a seeded LeNet (float32, float16, uint8), serves it with tfjs's own browser bundles on
// 127.0.0.1, has headless Chromium predict one MNIST digit with each, and compares the logits with
// Deno's. Not part of `deno task test` (CI has no browser). Needs Debian's chromium:
//   deno run --allow-read --allow-write=data --allow-net=127.0.0.1 --allow-run=chromium \
//     tests/browser/check_export.ts
import * as tf from "@tensorflow/tfjs-core";
import { createModel, fileHandler, mnist } from "../../mod.ts";

const dir = await Deno.makeTempDir({ dir: "data", prefix: ".browser-" });
const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const digits = await mnist({ root: "../shared/datasets/mnist", train: false });
const pixels = Array.from(digits.view(0).data, (v) => v / 255);
const expected = Array.from(
  (model.predict(tf.tensor4d(pixels, [1, 28, 28, 1])) as tf.Tensor).dataSync(),
);
for (const quantization of ["none", "float16", "uint8"] as const) {
  await model.save(fileHandler(`${dir}/${quantization}`, { quantization }));
}
const bundle = (pkg: string, file: string) =>
  new URL(import.meta.resolve(`npm:@tensorflow/${pkg}@4.22.0`)).pathname.replace(
    /dist\/.*$/,
    `dist/${file}`,
  );
const files: Record<string, string> = {
  "/tf-core.js": bundle("tfjs-core", "tf-core.min.js"),
  "/tf-backend-cpu.js": bundle("tfjs-backend-cpu", "tf-backend-cpu.min.js"),
  "/tf-layers.js": bundle("tfjs-layers", "tf-layers.min.js"),
};
const page = `<!doctype html><html><body><pre id="out">running</pre>
<script src="/tf-core.js"></script><script src="/tf-backend-cpu.js"></script><script src="/tf-layers.js"></script>
<script>
(async () => {
  const out = {};
  for (const q of ["none", "float16", "uint8"]) {
    const model = await tf.loadLayersModel("/" + q + "/model.json");
    out[q] = Array.from(model.predict(tf.tensor4d(${
  JSON.stringify(pixels)
}, [1, 28, 28, 1])).dataSync());
  }
  document.getElementById("out").textContent = "RESULT" + JSON.stringify(out);
})().catch((e) => { document.getElementById("out").textContent = "ERROR " + e; });
</script></body></html>`;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/") return new Response(page, { headers: { "content-type": "text/html" } });
  const file = files[path] ?? `${dir}${path}`;
  try {
    return new Response(await Deno.readFile(file));
  } catch {
    return new Response("not found", { status: 404 });
  }
});
const { port } = server.addr as Deno.NetAddr;
const chromium = new Deno.Command("chromium", {
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    `--user-data-dir=${dir}/profile`,
    "--virtual-time-budget=20000",
    "--dump-dom",
    `http://127.0.0.1:${port}/`,
  ],
  stdout: "piped",
  stderr: "null",
});
const dom = new TextDecoder().decode((await chromium.output()).stdout);
await server.shutdown();
await Deno.remove(dir, { recursive: true });
const match = /RESULT(\{.*\})/.exec(dom);
if (!match) {
  console.error(
    `the page did not finish: ${/<pre id="out">(.*?)<\/pre>/s.exec(dom)?.[1] ?? dom.slice(0, 300)}`,
  );
  Deno.exit(1);
}
const browser: Record<string, number[]> = JSON.parse(match[1]);
let failed = false;
for (const [quantization, logits] of Object.entries(browser)) {
  const error = Math.max(...logits.map((v, i) => Math.abs(v - expected[i])));
  const tolerance = quantization === "none" ? 1e-4 : 0.5;
  const same = logits.indexOf(Math.max(...logits)) === expected.indexOf(Math.max(...expected));
  console.log(
    `${quantization.padEnd(8)} loaded in Chromium; max |Δlogit| vs Deno ${
      error.toExponential(2)
    }; ` +
      `same prediction: ${same}`,
  );
  if (error > tolerance || !same) failed = true;
}
Deno.exit(failed ? 1 : 0);
