// `--pretrained` with PyTorch weights end to end: a torchvision-named resnet18 state dict served
// from 127.0.0.1 under a torch.hub-style name (sha256 prefix), fetched with the checked download,
// loaded, given a new head and fine-tuned; and the ways it can go wrong, each one line.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  createModel,
  encodeSafetensors,
  IMAGENET_CLASSES,
  nameRun,
  openTorchvisionModel,
  openTrainedModel,
  predictFiles,
  resolveTrainConfig,
  torchvisionWeights,
  toStateDict,
  trainRun,
  useBackend,
} from "../../mod.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

const quiet = { log: () => {}, warn: () => {} };

/** A resnet18 in torchvision's layout with 1000 classes, as safetensors bytes. */
async function resnet18Weights(): Promise<Uint8Array> {
  await useBackend("wasm");
  const model = createModel("resnet18", {
    inputShape: [64, 64, 3],
    numClasses: 1000,
    seed: 7,
    stem: "imagenet",
  });
  const bytes = encodeSafetensors(toStateDict(model));
  model.dispose();
  return bytes;
}

function serve(files: Record<string, Uint8Array>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const body = files[new URL(request.url).pathname.slice(1)];
    return body === undefined ? new Response("no", { status: 404 }) : new Response(body.slice());
  });
  return { server, base: `http://127.0.0.1:${server.addr.port}/` };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test("train --pretrained <url of a torchvision resnet18>: downloads, checks, fine-tunes, predicts", async () => {
  const dir = await tempDir("finetune-");
  const bytes = await resnet18Weights();
  const file = `resnet18-${sha256(bytes).slice(0, 8)}.safetensors`;
  const { server, base } = serve({ [file]: bytes });
  try {
    await makeColorFolder(join(dir, "photos"), { perClass: 6, height: 40, width: 48 });
    const lines: string[] = [];
    const config = nameRun(resolveTrainConfig({
      dataset: join(dir, "photos"),
      valSplit: 0.34,
      imgSize: 64,
      pretrained: base + file,
      epochs: 6,
      batchSize: 4,
      lr: 0.01,
      workers: 0,
      cache: false,
      backend: "wasm",
      out: join(dir, "runs"),
      name: "tv",
    }));
    const weightsDir = join(dir, "weights");
    const result = await trainRun(config, {
      ...quiet,
      log: (line) => lines.push(line),
      weightsDir,
    });
    assert.ok(
      lines.some((line) => line.startsWith("pretrained: torchvision resnet18")),
      lines.join("\n"),
    );
    assert.ok(lines.some((line) => /^froze \d+ layers/.test(line)), lines.join("\n"));
    assert.ok((await Deno.stat(join(weightsDir, file))).isFile, "the download is kept");
    assert.equal(result.history.length, 6);
    assert.ok(result.evaluation!.accuracy > 0.5, `accuracy ${result.evaluation!.accuracy}`);
    // The run records the ImageNet preprocessing, and predict applies it.
    const trained = await openTrainedModel(result.runDir);
    const steps = (trained.preprocessing.transform.options.transforms as { name: string }[])
      .map((step) => step.name);
    assert.deepEqual(steps, ["resize", "centerCrop", "normalize"]);
    const [prediction] = await predictFiles(trained, [join(dir, "photos", "red", "0.png")], 1);
    assert.equal(prediction.top[0].label, "red");
    trained.model.dispose();
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torchvision weights: a wrong checksum, a truncated file and a refused host are one line each", async () => {
  const dir = await tempDir("weights-");
  const bytes = await resnet18Weights();
  const truncated = bytes.subarray(0, bytes.length - 1000);
  const short = `resnet18-${sha256(truncated).slice(0, 8)}.safetensors`;
  const { server, base } = serve({
    "resnet18-f37072fd.pth": bytes, // not torchvision's file: its sha256 differs
    [short]: truncated,
  });
  try {
    const mismatch = await torchvisionWeights("resnet18", {
      dir,
      mirror: base,
      retries: 0,
      onProgress: () => {},
    }).then(() => "", (error: Error) => error.message);
    assert.match(mismatch, /checksum mismatch \(sha256 [0-9a-f]{64}, expected f37072fd…\)/);
    assert.doesNotMatch(mismatch, /\n/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is left behind");

    const config = (pretrained: string) =>
      nameRun(resolveTrainConfig({
        dataset: join(dir, "photos"),
        pretrained,
        imgSize: 64,
        epochs: 1,
        workers: 0,
        backend: "wasm",
        out: join(dir, "runs"),
        name: "bad",
      }));
    await makeColorFolder(join(dir, "photos"), { perClass: 2 });
    const cut = await trainRun(config(base + short), { ...quiet, weightsDir: dir })
      .then(() => "", (error: Error) => error.message);
    assert.match(cut, new RegExp(`${short}: .*truncated`));
    assert.doesNotMatch(cut, /\n/);

    const refused = await trainRun(
      config("http://example.org/resnet18-abcdef12.pth"),
      { ...quiet, weightsDir: dir },
    ).then(() => "", (error: Error) => error.message);
    assert.match(refused, /allow it with --allow-net=example\.org/);
    assert.doesNotMatch(refused, /\n/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict --pretrained <torchvision file>: ImageNet labels with torchvision's preprocessing", async () => {
  const dir = await tempDir("tvpredict-");
  try {
    const path = join(dir, "mine.safetensors");
    await Deno.writeFile(path, await resnet18Weights());
    await makeColorFolder(join(dir, "photos"), { perClass: 1 });
    const trained = await openTorchvisionModel(path);
    assert.deepEqual(trained.preprocessing.inputShape, [224, 224, 3]);
    const [prediction] = await predictFiles(trained, [join(dir, "photos", "red", "0.png")], 3);
    trained.model.dispose();
    assert.equal(prediction.top.length, 3);
    for (const { label, index } of prediction.top) assert.equal(label, IMAGENET_CLASSES[index]);
    await assert.rejects(
      openTorchvisionModel(join(dir, "photos", "red", "0.png")),
      /0\.png: not a PyTorch checkpoint|0\.png: .*(zip|safetensors|format)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
