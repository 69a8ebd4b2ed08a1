import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import pngjs from "pngjs";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  DataLoader,
  displayImage,
  findNormalization,
  nameRun,
  openRunData,
  resolveTrainConfig,
  type TrainConfig,
  trainRun,
  useBackend,
} from "../../mod.ts";
import {
  batchImages,
  misclassifiedOverlays,
  SampleTapLoader,
} from "../../lib/run/_report_images.ts";
import { dumpDom, hasChromium, screenshot } from "../_chromium.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

const quiet = { log: () => {}, warn: () => {} };

/** A tiny augmented run on noisy colour patches (randomCrop + flip: the samples differ). */
async function tinyRun(name: string, extra: Partial<TrainConfig> = {}) {
  const dir = await tempDir("report-");
  await makeColorFolder(join(dir, "photos"));
  const config = nameRun(resolveTrainConfig({
    dataset: join(dir, "photos"),
    valSplit: 0.25,
    imgSize: 16,
    model: "compact-cnn",
    augment: "cifar",
    epochs: 1,
    batchSize: 8,
    workers: 0,
    cache: false,
    backend: "wasm",
    out: join(dir, "runs"),
    name,
    ...extra,
  }));
  return { dir, config, result: await trainRun(config, quiet) };
}

/** The PNG data URIs inside `<div class="grid CLASS">…</div>`, decoded. */
function gridImages(html: string, gridClass: string) {
  const start = html.indexOf(`<div class="grid ${gridClass}">`);
  assert.ok(start >= 0, `a ${gridClass} grid`);
  const grid = html.slice(start, html.indexOf("</div>\n", start));
  return [...grid.matchAll(/src="data:image\/png;base64,([^"]+)"/g)].map((m) =>
    pngjs.PNG.sync.read(Buffer.from(m[1], "base64"))
  );
}

Deno.test("SampleTapLoader: its kept batch is the loader's first batch, byte for byte", async () => {
  const dir = await tempDir("tap-");
  await makeColorFolder(join(dir, "photos"));
  const config = resolveTrainConfig({
    dataset: join(dir, "photos"),
    valSplit: 0.25,
    imgSize: 16,
    augment: "cifar",
  });
  const data = await openRunData(config, { warn: () => {} });
  const options = {
    batchSize: 8,
    shuffle: true,
    seed: 7,
    transform: data.trainTransform,
    numWorkers: 0,
  };
  const tap = new SampleTapLoader(data.train, options);
  tap.keep = 5;
  let firstSeen: Float32Array | Uint8Array | undefined;
  let batches = 0;
  for await (const batch of tap.batches(0)) {
    firstSeen ??= batch.images.slice();
    batches++;
  }
  assert.equal(batches, tap.length, "every batch still reaches the consumer");
  const plain = new DataLoader(data.train, options);
  const expected = (await plain.batches(0).next()).value!;
  const kept = tap.first!;
  assert.deepEqual([kept.epoch, kept.step], [0, 0]);
  assert.deepEqual(kept.batch.shape, [5, 16, 16, 3]);
  assert.deepEqual([...kept.batch.labels], [...expected.labels.subarray(0, 5)]);
  assert.deepEqual(kept.batch.images, expected.images.subarray(0, 5 * 16 * 16 * 3));
  assert.deepEqual(kept.batch.images, firstSeen!.subarray(0, 5 * 16 * 16 * 3));
  // Another seed augments differently: the comparison above is not vacuous.
  const other = new DataLoader(data.train, { ...options, seed: 8 });
  const otherFirst = (await other.batches(0).next()).value!;
  assert.notDeepEqual(otherFirst.images, expected.images);
  tap.close();
  plain.close();
  other.close();
});

Deno.test("misclassifiedOverlays: a model with no spatial layer gets none, without a crash or a leak", async () => {
  await useBackend("wasm");
  const dir = await tempDir("overlay-");
  await makeColorFolder(join(dir, "photos"));
  const data = await openRunData(
    resolveTrainConfig({ dataset: join(dir, "photos"), valSplit: 0.25, imgSize: 16 }),
    { warn: () => {} },
  );
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [16, 16, 3] }),
      tfl.layers.dense({ units: data.classes.length }),
    ],
  });
  const before = tf.memory().numTensors;
  const warnings: string[] = [];
  const overlays = await misclassifiedOverlays(
    model,
    data.validation,
    data.evalTransform,
    data.inputShape,
    [{ index: 0, predicted: 1 }, { index: 1, predicted: 0 }],
    (line) => warnings.push(line),
  );
  assert.deepEqual(overlays, [undefined, undefined]);
  assert.match(warnings.join("\n"), /no Grad-CAM overlays .*height × width × channels/);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("report.html: the Samples grid shows the training loader's first batch as the model saw it", async () => {
  const before = tf.memory().numTensors;
  const { config, result } = await tinyRun("samples");
  assert.equal(tf.memory().numTensors, before, "no tensor outlives the run (overlays included)");
  const html = await Deno.readTextFile(join(result.runDir, "report.html"));
  assert.match(html, /<h2>Samples<\/h2>/);
  assert.match(
    html,
    /after augmentation \(resize → randomCrop → randomHorizontalFlip → normalize\)/,
  );
  // Same seed, same dataset, same transform: the batch the model trained on first.
  const data = await openRunData(config, { warn: () => {} });
  const loader = new DataLoader(data.train, {
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
    transform: data.trainTransform,
    numWorkers: 0,
  });
  const first = (await loader.batches(0).next()).value!;
  loader.close();
  const shown = gridImages(html, "samples");
  assert.equal(shown.length, first.labels.length);
  const size = 16 * 16 * 3;
  const normalization = findNormalization(data.trainTransform);
  assert.ok(normalization, "the pipeline normalises");
  shown.forEach((png, i) => {
    const expected = displayImage(
      first.images.subarray(i * size, (i + 1) * size) as Float32Array,
      [16, 16, 3],
      normalization,
    );
    assert.deepEqual([png.width, png.height], [16, 16]);
    const rgb = Uint8Array.from(
      { length: size },
      (_, j) => png.data[Math.floor(j / 3) * 4 + j % 3],
    );
    assert.deepEqual(rgb, expected.data, `sample ${i}`);
  });
  assert.deepEqual(batchImages(first, data.trainTransform).map((image) => image.data.length), [
    ...Array(first.labels.length).fill(size),
  ]);
  // Each shown sample is labelled with its class.
  const labels = [...html.matchAll(/<figure class="sample"><img[^>]*><figcaption>([^<]*)</g)]
    .map((m) => m[1]);
  assert.deepEqual(labels, [...first.labels].map((l) => data.classes[l]));
});

Deno.test({
  name:
    "report.html in headless Chromium: Samples decoded, overlays on the mistakes, a working toggle, a screenshot",
  ignore: !hasChromium,
  async fn() {
    // A learning rate that leaves the model as initialised: mistakes to draw overlays on.
    const { dir, result } = await tinyRun("chromium", { lr: 1e-7 });
    const html = await Deno.readTextFile(join(result.runDir, "report.html"));
    // A copy with a probe that writes what the page decoded and drew into the DOM.
    const probe = `<script>addEventListener("load", () => {
  const report = (name) => [...document.querySelectorAll(name)]
    .map((img) => img.naturalWidth + "x" + img.naturalHeight).join(" ");
  const shown = () => [...document.querySelectorAll(".misclassified img.cam")]
    .filter((img) => getComputedStyle(img).display !== "none").length;
  const out = document.createElement("pre");
  out.id = "probe";
  const on = shown();
  document.getElementById("cam-toggle")?.click();
  const off = shown();
  out.textContent = JSON.stringify({
    samples: report(".samples img"), cams: report(".misclassified img.cam"), on, off,
  });
  document.body.append(out);
});</script>`;
    const probed = join(dir, "probed.html");
    await Deno.writeTextFile(probed, html.replace("</body>", `${probe}</body>`));
    const dom = await dumpDom(new URL(`file://${Deno.realPathSync(probed)}`), [
      "--virtual-time-budget=5000",
    ]);
    const found = JSON.parse(
      dom.match(/<pre id="probe">([^<]*)<\/pre>/)![1].replaceAll("&quot;", '"'),
    );
    const samples = found.samples.split(" ");
    assert.equal(samples.length, 8, "one batch of 8 samples");
    assert.ok(samples.every((s: string) => s === "16x16"), found.samples);
    const mistakes = result.evaluation!.report.perClass.reduce((n, c) => n + c.support, 0) -
      Math.round(
        result.evaluation!.accuracy *
          result.evaluation!.report.perClass.reduce((n, c) => n + c.support, 0),
      );
    const cams = found.cams === "" ? [] : found.cams.split(" ");
    assert.ok(mistakes > 0, "the untrained model makes mistakes");
    assert.equal(cams.length, Math.min(48, mistakes), "one overlay per misclassified thumbnail");
    assert.ok(cams.every((s: string) => s === "16x16"), found.cams);
    assert.match(html, /<input type="checkbox" id="cam-toggle" checked>/);
    assert.deepEqual([found.on, found.off], [cams.length, 0], "the toggle hides every overlay");

    // The report as a person sees it: a screenshot that decodes as a PNG of the window's size.
    const shot = join(Deno.realPathSync(dir), "report.png");
    const page = new URL(`file://${Deno.realPathSync(join(result.runDir, "report.html"))}`);
    await screenshot(page, shot, [1000, 2400]);
    const png = pngjs.PNG.sync.read(Buffer.from(await Deno.readFile(shot)));
    assert.deepEqual([png.width, png.height], [1000, 2400]);
    // Not a blank page: many distinct colours (curves, bars, thumbnails).
    const colors = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4 * 7) {
      colors.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
    }
    assert.ok(colors.size > 200, `${colors.size} colours`);
  },
});
