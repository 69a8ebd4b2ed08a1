// The page of `deno task web` in a real browser: headless Chromium with WebGPU (Dawn on
// SwiftShader here) trains the embedded shapes set for a few steps on a fixed seed; its losses
// must match Deno's run of the same function on the same seed, data and backend kind (WebGPU:
// lavapipe here; wasm where Deno has no adapter), and the model.onnx it makes must run in ONNX
// Runtime and give the page's own logits. Ignored, with one line, where Chromium is missing.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  type BackendName,
  type KernelSet,
  setWebGpuKernels,
  useBackend,
} from "../../lib/backend/mod.ts";
import { shapes } from "../../lib/datasets/shapes.ts";
import { buildWebPage, serveWebPage } from "../../lib/web/build.ts";
import { trainInMemory } from "../../lib/web/train.ts";
import { hasChromium } from "../_chromium.ts";
import { WEBGPU_ARGS, withChromiumPage } from "../_cdp.ts";
import { tempDir } from "../_tmp.ts";
import { ortOutput, relativeError } from "../export/_onnx.ts";

if (!hasChromium) console.log("tests/web/page_test.ts: ignored, /usr/bin/chromium is missing");

/** The run both sides make: small enough for a software GPU, long enough for Adam to move. */
const RUN = { model: "compact-cnn", size: 96, steps: 6, batch: 16, seed: 3, lr: 0.01 };
/**
 * Largest gap allowed between the page's running-mean losses and Deno's: two float32 WebGPU
 * implementations (Dawn on SwiftShader, wgpu on lavapipe) running the same WGSL differ in the
 * last bits (fused multiply-adds, exp), and six Adam steps carry that along.
 */
const LOSS_TOLERANCE = 5e-4;

interface PageResult {
  error?: string;
  backend: string;
  adapter?: string;
  kernels?: "ours" | "stock";
  stepLosses: number[];
  accuracy?: number;
  confusion?: number[];
  onnx: string;
  probe: { input: string; shape: [number, number, number, number]; logits: number[] };
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Deno's run of the page's training function, on `backend` (with `kernels` on WebGPU). */
async function denoLosses(backend: BackendName, kernels: KernelSet): Promise<number[]> {
  await useBackend(backend);
  if (backend === "webgpu") setWebGpuKernels(kernels);
  const train = shapes({ size: RUN.size, seed: RUN.seed });
  const validation = shapes({
    size: Math.max(50, Math.round(RUN.size / 4)),
    seed: RUN.seed,
    train: false,
  });
  const result = await trainInMemory(train, validation, {
    model: RUN.model,
    epochs: 1,
    batchSize: RUN.batch,
    lr: RUN.lr,
    seed: RUN.seed,
    maxSteps: RUN.steps,
  });
  result.model.dispose();
  return result.stepLosses;
}

Deno.test({
  name: "the web page trains in Chromium on WebGPU as Deno does, and its ONNX runs in ONNX Runtime",
  ignore: !hasChromium,
  sanitizeResources: false, // onnxruntime-web keeps its wasm instance
  async fn() {
    const dir = await tempDir("web-page-");
    const stop = new AbortController();
    try {
      const { dir: site } = await buildWebPage({ outDir: `${dir}/site` });
      let ready!: (url: URL) => void;
      const listening = new Promise<URL>((resolve) => ready = resolve);
      const server = serveWebPage(site, { port: 0, signal: stop.signal, onListen: ready });
      const base = await listening;
      const query = new URLSearchParams({
        dataset: "shapes",
        epochs: "1",
        seed: String(RUN.seed),
        model: RUN.model,
        size: String(RUN.size),
        steps: String(RUN.steps),
        batch: String(RUN.batch),
        lr: String(RUN.lr),
        backend: "webgpu",
      });
      const page = await withChromiumPage(
        new URL(`?${query}`, base),
        { args: WEBGPU_ARGS, timeoutMs: 240_000 },
        async (page) => {
          const text = await page.waitFor<string>(
            "document.getElementById('result')?.textContent",
            230_000,
          );
          return JSON.parse(text) as PageResult;
        },
      );
      stop.abort();
      await server.finished;
      assert.equal(page.error, undefined, page.error);
      assert.equal(page.backend, "webgpu", `the page trained on ${page.backend}`);
      assert.equal(page.stepLosses.length, RUN.steps);

      // Deno, same function, seed and data: on WebGPU where Deno has an adapter.
      const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
      const kind: BackendName = adapter == null ? "wasm" : "webgpu";
      // The same kernels as the page: tfjs's on a CPU renderer such as SwiftShader (see
      // selectWebBackend), ours on a GPU.
      const deno = await denoLosses(kind, page.kernels ?? "ours");
      const gaps = deno.map((loss, i) => Math.abs(loss - page.stepLosses[i]));
      const worst = Math.max(...gaps);
      console.log(
        `page (${page.adapter}, ${page.kernels} kernels) vs Deno (${kind}): worst loss gap ${
          worst.toExponential(2)
        } over ` +
          `${RUN.steps} steps; losses ${page.stepLosses.map((l) => l.toFixed(4)).join(" ")}`,
      );
      assert.ok(
        worst <= LOSS_TOLERANCE,
        `losses differ by ${worst}: page ${page.stepLosses.join(", ")}; Deno ${deno.join(", ")}`,
      );
      assert.ok(page.stepLosses.every(Number.isFinite));

      // The page's model.onnx in ONNX Runtime gives the page's own logits.
      await useBackend("cpu");
      const input = new Float32Array(fromBase64(page.probe.input).buffer);
      const x = tf.tensor4d(input, page.probe.shape);
      const logits = await ortOutput(fromBase64(page.onnx), x);
      x.dispose();
      const error = relativeError(Float32Array.from(page.probe.logits), logits);
      assert.ok(error < 1e-4, `ONNX Runtime vs the page's TF.js logits: relative error ${error}`);
    } finally {
      stop.abort();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Copies `n` photos of each class and split of the hymenoptera set (plus its GIF) to `dir`. */
async function photoFolder(dir: string, n: number): Promise<void> {
  const root = "../shared/datasets/hymenoptera";
  for (const split of ["train", "val"]) {
    for (const cls of ["ants", "bees"]) {
      await Deno.mkdir(`${dir}/${split}/${cls}`, { recursive: true });
      const names = [];
      for await (const entry of Deno.readDir(`${root}/${split}/${cls}`)) {
        if (entry.name.endsWith(".jpg")) names.push(entry.name);
      }
      for (const name of names.sort().slice(0, n)) {
        await Deno.copyFile(`${root}/${split}/${cls}/${name}`, `${dir}/${split}/${cls}/${name}`);
      }
    }
  }
  await Deno.copyFile(`${root}/train/ants/imageNotFound.gif`, `${dir}/train/ants/not-a-photo.gif`);
}

Deno.test({
  name:
    "the web page as a user drives it: a photo folder, training, confusion, predict, a bad photo",
  ignore: !hasChromium,
  async fn() {
    const dir = await tempDir("web-folder-");
    const stop = new AbortController();
    try {
      const { dir: site } = await buildWebPage({ outDir: `${dir}/site` });
      const photos = await Deno.realPath(dir).then((real) => `${real}/hymenoptera`);
      await photoFolder(photos, 8);
      let ready!: (url: URL) => void;
      const listening = new Promise<URL>((resolve) => ready = resolve);
      const server = serveWebPage(site, { port: 0, signal: stop.signal, onListen: ready });
      const base = await listening;
      await withChromiumPage(
        new URL("?backend=wasm", base),
        { timeoutMs: 120_000 },
        async (page) => {
          const set = (id: string, value: string) =>
            page.evaluate(
              `document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(value)}`,
            );
          await set("side", "32");
          await page.setInputFiles("#folder", [photos]);
          const status = await page.waitFor<string>(
            "document.getElementById('data-status').textContent.includes('classes') && " +
              "document.getElementById('data-status').textContent",
            30_000,
          );
          assert.match(status, /16 training and 16 validation images in 2 classes, 32×32; 1 files/);
          assert.equal(
            await page.evaluate("document.getElementById('counts').innerText"),
            "class\ttrain\tvalidation\nants\t8\t8\nbees\t8\t8",
          );
          // Up to 12 samples a class: all 8 of each here.
          await page.waitFor("document.querySelectorAll('#samples canvas').length === 16", 10_000);
          await set("model", "compact-cnn");
          await set("epochs", "2");
          await set("batch", "8");
          await page.evaluate("document.getElementById('train').click()");
          const done = await page.waitFor<string>(
            "document.getElementById('train-status').textContent.startsWith('done') && " +
              "document.getElementById('train-status').textContent",
            90_000,
          );
          assert.match(done, /^done in [\d.]+ s: validation accuracy \d+\.\d%$/);
          assert.equal(
            await page.evaluate("document.querySelectorAll('#epochs-table tbody tr').length"),
            2,
          );
          const cells = await page.evaluate<number[]>(
            "[...document.querySelectorAll('#confusion td')].map((td) => Number(td.textContent))",
          );
          assert.equal(cells.length, 4);
          assert.equal(cells.reduce((a, b) => a + b, 0), 16, "every validation photo counted once");
          assert.equal(
            await page.evaluate("document.getElementById('download-onnx').disabled"),
            false,
          );
          // A photo to classify, then a file that is not one.
          await page.setInputFiles("#predict-file", [
            `${photos}/val/bees/${(await firstJpeg(`${photos}/val/bees`))}`,
          ]);
          const top = await page.waitFor<string>(
            "document.querySelectorAll('#prediction li').length === 2 && " +
              "document.getElementById('prediction').innerText",
            20_000,
          );
          assert.match(top, /^(ants|bees): \d+\.\d%\n(ants|bees): \d+\.\d%$/);
          await page.setInputFiles("#predict-file", [`${photos}/train/ants/not-a-photo.gif`]);
          const error = await page.waitFor<string>(
            "document.getElementById('prediction').innerText.includes('not-a-photo') && " +
              "document.getElementById('prediction').innerText",
            20_000,
          );
          assert.match(error, /^not-a-photo\.gif: .*(GIF|format)/i);
        },
      );
      stop.abort();
      await server.finished;
    } finally {
      stop.abort();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function firstJpeg(dir: string): Promise<string> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort()[0];
}
