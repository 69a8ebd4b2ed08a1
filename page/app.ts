/// <reference lib="dom" />
/**
 * The page of `deno task web`: drop a folder of class folders, pick a model (optionally with
 * PyTorch weights), train it in the tab on WebGPU (else wasm), read the confusion matrix and the
 * mistakes, download model.onnx and the TF.js model, and classify a dropped photo. Everything
 * runs here; nothing is uploaded.
 *
 * Automation (the browser test drives it so): `?dataset=shapes&epochs=N&seed=S` (and `model`,
 * `batch`, `lr`, `size`, `steps`, `backend`) trains at once and writes the run's figures as JSON
 * into `#result`, with the ONNX bytes and the TF.js logits of a probe batch to check them by.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import {
  centerCrop,
  compose,
  datasetsFromFiles,
  decodeImage,
  type EpochLog,
  type EvaluationResult,
  type FolderDatasets,
  type ImageFileEntry,
  type InMemoryDataset,
  listModels,
  loadTorchvision,
  predictImage,
  type RawImage,
  resize,
  Rng,
  selectWebBackend,
  shapes,
  toOnnxAsync,
  TORCHVISION_MODELS,
  trainInMemory,
  type Transform,
  type WebBackend,
  type WebBackendName,
} from "../web.ts";
import { drawCurve } from "./_curve.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

/** The data the page trains on. */
interface PageData {
  name: string;
  classes: string[];
  train: InMemoryDataset;
  validation: InMemoryDataset | undefined;
  files: { train: string[]; validation: string[] };
  counts: { train: number[]; validation: number[] };
  side: number;
  /** The dropped files, kept to rebuild the datasets at another side. */
  entries?: ImageFileEntry[];
}

interface Trained {
  model: LayersModel;
  classes: string[];
  side: number;
  evalTransform: Transform;
}

let data: PageData | undefined;
let trained: Trained | undefined;
let backend: WebBackend | undefined;
let stopper: AbortController | undefined;

function status(id: string, text: string, error = false): void {
  const element = $(id);
  element.textContent = text;
  element.classList.toggle("error", error);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

/** A canvas showing a uint8 RGB or gray image. */
function thumbnail(image: RawImage): HTMLCanvasElement {
  const canvas = element("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const rgba = new ImageData(image.width, image.height);
  for (let i = 0, o = 0; o < rgba.data.length; i += image.channels, o += 4) {
    rgba.data[o] = image.data[i];
    rgba.data[o + 1] = image.data[image.channels === 3 ? i + 1 : i];
    rgba.data[o + 2] = image.data[image.channels === 3 ? i + 2 : i];
    rgba.data[o + 3] = 255;
  }
  canvas.getContext("2d")!.putImageData(rgba, 0, 0);
  return canvas;
}

function figure(image: RawImage, caption: string, title?: string): HTMLElement {
  const node = element("figure");
  node.append(thumbnail(image), element("figcaption", caption));
  if (title !== undefined) node.title = title;
  return node;
}

// ---- data -------------------------------------------------------------------------------------

function showData(d: PageData): void {
  const counts = $("counts") as HTMLTableElement;
  counts.replaceChildren();
  const head = counts.createTHead().insertRow();
  for (const text of ["class", "train", "validation"]) head.append(element("th", text));
  const body = counts.createTBody();
  d.classes.forEach((cls, c) => {
    const row = body.insertRow();
    row.append(
      element("td", cls),
      element("td", String(d.counts.train[c])),
      element("td", String(d.counts.validation[c] ?? 0)),
    );
  });
  const samples = $("samples");
  samples.replaceChildren();
  const perClass = Math.max(1, Math.floor(24 / d.classes.length));
  d.classes.forEach(async (cls, c) => {
    let shown = 0;
    for (let i = 0; i < d.train.length && shown < perClass; i++) {
      if (d.train.labelOf(i) !== c) continue;
      const [image] = await d.train.get(i);
      samples.append(figure(image as RawImage, cls, d.files.train[i]));
      shown++;
    }
  });
  ($("train") as HTMLButtonElement).disabled = false;
}

function useShapes(): void {
  const seed = Number(params.get("seed") ?? ($("seed") as HTMLInputElement).value);
  const size = Number(params.get("size") ?? 2000);
  const train = shapes({ size, seed });
  const validation = shapes({ size: Math.max(50, Math.round(size / 4)), seed, train: false });
  const count = (set: InMemoryDataset) =>
    train.classes.map((_, c) => Array.from(set.labels).filter((l) => l === c).length);
  data = {
    name: "shapes",
    classes: [...train.classes],
    train,
    validation,
    files: { train: [], validation: [] },
    counts: { train: count(train), validation: count(validation) },
    side: 32,
  };
  ($("side") as HTMLInputElement).value = "32";
  ($("model") as HTMLSelectElement).value = params.get("model") ?? "cifar-cnn";
  status(
    "data-status",
    `shapes: ${train.length} training and ${validation.length} validation images, 32×32`,
  );
  showData(data);
}

function fromEntries(entries: ImageFileEntry[], side: number, name: string): PageData {
  const sets: FolderDatasets = datasetsFromFiles(entries, { side });
  if (sets.skipped.length > 0) {
    console.warn(sets.skipped.map((s) => s.message).join("\n"));
  }
  return { name, ...sets, side, entries };
}

async function loadEntries(entries: ImageFileEntry[], name: string): Promise<void> {
  const side = Number(($("side") as HTMLInputElement).value);
  status("data-status", `decoding ${entries.length} files…`);
  await new Promise((resolve) => setTimeout(resolve, 0));
  try {
    data = fromEntries(entries, side, name);
  } catch (error) {
    status("data-status", message(error), true);
    return;
  }
  const skipped = data.entries!.length - data.train.length - (data.validation?.length ?? 0);
  status(
    "data-status",
    `${name}: ${data.train.length} training and ${data.validation?.length ?? 0} validation ` +
      `images in ${data.classes.length} classes, ${side}×${side}` +
      (skipped > 0 ? `; ${skipped} files skipped (the console lists them)` : ""),
  );
  showData(data);
}

async function entriesFromFiles(files: FileList): Promise<ImageFileEntry[]> {
  const entries: ImageFileEntry[] = [];
  for (const file of Array.from(files)) {
    const path = (file.webkitRelativePath || file.name).split("/").slice(1).join("/");
    entries.push({ path, bytes: new Uint8Array(await file.arrayBuffer()) });
  }
  return entries;
}

/** Every file below a dropped directory entry, with its path below the dropped folder. */
async function walk(entry: FileSystemEntry, prefix: string, out: ImageFileEntry[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject)
    );
    out.push({ path: prefix + entry.name, bytes: new Uint8Array(await file.arrayBuffer()) });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject)
    );
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
  }
}

async function onDrop(event: DragEvent): Promise<void> {
  event.preventDefault();
  $("drop").classList.remove("over");
  const items = Array.from(event.dataTransfer?.items ?? []);
  const roots = items.map((item) => item.webkitGetAsEntry()).filter((e) => e !== null);
  const entries: ImageFileEntry[] = [];
  for (const root of roots) {
    if (root.isDirectory) {
      // Paths below the dropped folder itself.
      const inner: ImageFileEntry[] = [];
      await walk(root, "", inner);
      for (const e of inner) entries.push({ ...e, path: e.path.split("/").slice(1).join("/") });
    } else {
      await walk(root, "", entries);
    }
  }
  await loadEntries(entries, roots.length === 1 ? roots[0].name : "dropped files");
}

// ---- training ---------------------------------------------------------------------------------

/** `?kernels=ours|stock` picks the WebGPU kernels; otherwise the backend decides. */
function kernelChoice(): "ours" | "stock" | "auto" {
  const value = params.get("kernels");
  return value === "ours" || value === "stock" ? value : "auto";
}

function numberInput(id: string, param: string): number {
  const value = params.get(param) ?? ($(id) as HTMLInputElement).value;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new RangeError(`${param}: not a number: ${value}`);
  return parsed;
}

async function buildModel(d: PageData, seed: number): Promise<string | LayersModel> {
  const pretrained = ($("pretrained") as HTMLSelectElement).value;
  const name = ($("model") as HTMLSelectElement).value;
  if (pretrained === "") return name;
  const file = ($("weights-file") as HTMLInputElement).files?.[0];
  const url = ($("weights-url") as HTMLInputElement).value.trim() ||
    TORCHVISION_MODELS[pretrained].url;
  status("train-status", `loading ${file?.name ?? url}…`);
  return await loadTorchvision(
    pretrained,
    file === undefined ? url : new Uint8Array(await file.arrayBuffer()),
    { numClasses: d.classes.length, inputSize: d.side, seed, source: file?.name },
  );
}

function addEpochRow(log: EpochLog): void {
  const body = ($("epochs-table") as HTMLTableElement).tBodies[0];
  const row = body.insertRow();
  const pct = (v: number | undefined) => v === undefined ? "" : `${(100 * v).toFixed(1)}%`;
  for (
    const text of [
      String(log.epoch + 1),
      log.loss.toFixed(4),
      pct(log.accuracy),
      log.valLoss?.toFixed(4) ?? "",
      pct(log.valAccuracy),
      log.imagesPerSecond.toFixed(0),
    ]
  ) row.append(element("td", text));
}

function showEvaluation(d: PageData, evaluation: EvaluationResult): void {
  const table = $("confusion") as HTMLTableElement;
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  head.append(element("th", "true \\ predicted"));
  for (const cls of d.classes) head.append(element("th", cls));
  const body = table.createTBody();
  const k = d.classes.length;
  for (let t = 0; t < k; t++) {
    const row = body.insertRow();
    row.append(element("th", d.classes[t]));
    for (let p = 0; p < k; p++) {
      const n = evaluation.confusion[t * k + p];
      row.append(element("td", String(n), t === p ? "diag" : undefined));
    }
  }
  const mistakes = $("mistakes");
  mistakes.replaceChildren();
  evaluation.misclassified.slice(0, 48).forEach(async (m) => {
    const [image] = await d.validation!.get(m.index);
    const caption = `${d.classes[m.truth]} → ${d.classes[m.predicted]} ${
      (100 * m.confidence).toFixed(0)
    }%`;
    mistakes.append(figure(image as RawImage, caption, d.files.validation[m.index]));
  });
}

/** The ONNX bytes, and TF.js's logits for the first validation images, for the test to check. */
async function probe(d: PageData, model: LayersModel, evalTransform: Transform) {
  const onnx = await toOnnxAsync(model, { metadata: { classes: JSON.stringify(d.classes) } });
  const set = d.validation ?? d.train;
  const n = Math.min(4, set.length);
  const size = d.side * d.side * set.shape[2];
  const input = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const [image] = await set.get(i);
    input.set(evalTransform.apply(image, new Rng(0)).data, i * size);
  }
  const shape: [number, number, number, number] = [n, d.side, d.side, set.shape[2]];
  const logits = tf.tidy(() => model.predict(tf.tensor4d(input, shape)) as tf.Tensor);
  const values = Array.from(await logits.data());
  logits.dispose();
  return { onnx, input, shape, logits: values };
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

async function train(): Promise<void> {
  if (data === undefined) return;
  const trainButton = $("train") as HTMLButtonElement;
  const stopButton = $("stop") as HTMLButtonElement;
  trainButton.disabled = true;
  stopButton.disabled = false;
  const result = $("result");
  try {
    const side = Number(($("side") as HTMLInputElement).value);
    if (data.entries !== undefined && side !== data.side) {
      data = fromEntries(data.entries, side, data.name);
      showData(data);
    }
    const d = data;
    const seed = numberInput("seed", "seed");
    const choice = (params.get("backend") ??
      ($("backend-choice") as HTMLSelectElement).value) as WebBackendName | "auto";
    backend = await selectWebBackend(choice, { kernels: kernelChoice() });
    status("backend", `backend: ${backend.name} (${backend.reason})`);
    trained?.model.dispose();
    trained = undefined;
    const model = await buildModel(d, seed);
    ($("epochs-table") as HTMLTableElement).tBodies[0].replaceChildren();
    const epochs = numberInput("epochs", "epochs");
    const losses: number[] = [];
    const valAccuracy: number[] = [];
    let stepsPerEpoch = 1;
    stopper = new AbortController();
    const started = performance.now();
    const run = await trainInMemory(d.train, d.validation, {
      model,
      epochs,
      batchSize: numberInput("batch", "batch"),
      lr: numberInput("lr", "lr"),
      seed,
      maxSteps: params.has("steps") ? Number(params.get("steps")) : undefined,
      signal: stopper.signal,
      onStep: (info) => {
        stepsPerEpoch = info.steps;
        losses.push(info.loss);
        status(
          "train-status",
          `epoch ${info.epoch + 1}/${epochs}, step ${info.step}/${info.steps}: loss ` +
            `${info.loss.toFixed(4)}, ${info.imagesPerSecond.toFixed(0)} images/s`,
        );
        drawCurve($("curve") as HTMLCanvasElement, losses, valAccuracy, stepsPerEpoch);
      },
      onEpoch: (log) => {
        addEpochRow(log);
        if (log.valAccuracy !== undefined) valAccuracy.push(log.valAccuracy);
        drawCurve($("curve") as HTMLCanvasElement, losses, valAccuracy, stepsPerEpoch);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    trained = {
      model: run.model,
      classes: d.classes,
      side: d.side,
      evalTransform: run.evalTransform,
    };
    if (run.evaluation !== undefined) showEvaluation(d, run.evaluation);
    status(
      "train-status",
      `done in ${seconds.toFixed(1)} s` +
        (run.evaluation === undefined
          ? ""
          : `: validation accuracy ${(100 * run.evaluation.accuracy).toFixed(1)}%`),
    );
    for (const id of ["download-onnx", "download-tfjs"]) {
      ($(id) as HTMLButtonElement).disabled = false;
    }
    if (params.has("dataset")) {
      const check = await probe(d, run.model, run.evalTransform);
      result.textContent = JSON.stringify({
        backend: backend.name,
        adapter: backend.adapter,
        kernels: backend.kernels,
        model: typeof model === "string" ? model : model.name,
        seed,
        stepLosses: run.stepLosses,
        history: run.history,
        accuracy: run.evaluation?.accuracy,
        confusion: run.evaluation === undefined ? undefined : Array.from(run.evaluation.confusion),
        seconds,
        onnx: base64(check.onnx),
        probe: {
          input: base64(new Uint8Array(check.input.buffer)),
          shape: check.shape,
          logits: check.logits,
        },
        numTensors: tf.memory().numTensors,
      });
    }
  } catch (error) {
    console.error(error);
    status("train-status", message(error), true);
    if (params.has("dataset")) result.textContent = JSON.stringify({ error: message(error) });
  } finally {
    trainButton.disabled = false;
    stopButton.disabled = true;
  }
}

// ---- export and predict -----------------------------------------------------------------------

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(
    new Blob([bytes as BlobPart], { type: "application/octet-stream" }),
  );
  const link = element("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function predict(file: File): Promise<void> {
  const list = $("prediction");
  list.replaceChildren();
  if (trained === undefined) {
    list.append(element("li", "train a model first"));
    return;
  }
  try {
    const image = decodeImage(new Uint8Array(await file.arrayBuffer()), { channels: 3 });
    const { side, evalTransform, classes, model } = trained;
    const transform = compose([resize(side), centerCrop(side), evalTransform]);
    const top = await predictImage(model, image, { classes, transform, k: 5 });
    for (const { label, probability } of top) {
      list.append(element("li", `${label}: ${(100 * probability).toFixed(1)}%`));
    }
  } catch (error) {
    list.append(element("li", `${file.name}: ${message(error)}`, "status error"));
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function setUp(): void {
  const models = $("model") as HTMLSelectElement;
  for (const entry of listModels()) {
    if (entry.name === "lenet") continue; // 28×28 gray digits, not photos
    const option = element("option", `${entry.name}: ${entry.description}`);
    option.value = entry.name;
    models.append(option);
  }
  models.value = "mobilenetv2";
  const pretrained = $("pretrained") as HTMLSelectElement;
  for (const [name, spec] of Object.entries(TORCHVISION_MODELS)) {
    const option = element("option", `torchvision ${name} (ImageNet top-1 ${spec.top1}%)`);
    option.value = name;
    pretrained.append(option);
  }
  pretrained.addEventListener("change", () => {
    const spec = TORCHVISION_MODELS[pretrained.value];
    if (spec === undefined) return;
    models.value = spec.model;
    ($("weights-url") as HTMLInputElement).placeholder = spec.url;
  });
  $("use-shapes").addEventListener("click", useShapes);
  $("folder").addEventListener("change", async (event) => {
    const files = (event.target as HTMLInputElement).files;
    if (files !== null && files.length > 0) {
      const name = files[0].webkitRelativePath.split("/")[0] || "folder";
      await loadEntries(await entriesFromFiles(files), name);
    }
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => void onDrop(event));
  $("train").addEventListener("click", () => void train());
  $("stop").addEventListener("click", () => stopper?.abort());
  $("download-onnx").addEventListener("click", async () => {
    if (trained === undefined) return;
    const { model, classes } = trained;
    download(
      await toOnnxAsync(model, { metadata: { classes: JSON.stringify(classes) } }),
      "model.onnx",
    );
  });
  $("download-tfjs").addEventListener("click", async () => {
    // tfjs-core routes downloads:// to browser downloads (model.json and model.weights.bin).
    await trained?.model.save("downloads://model");
  });
  const predictDrop = $("predict-drop");
  predictDrop.addEventListener("dragover", (event) => event.preventDefault());
  predictDrop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer?.files[0];
    if (file !== undefined) void predict(file);
  });
  $("predict-file").addEventListener("change", (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file !== undefined) void predict(file);
  });
}

async function start(): Promise<void> {
  setUp();
  try {
    const choice = (params.get("backend") ?? "auto") as WebBackendName | "auto";
    backend = await selectWebBackend(choice, { kernels: kernelChoice() });
    ($("backend-choice") as HTMLSelectElement).value = choice;
    status("backend", `backend: ${backend.name} (${backend.reason})`);
  } catch (error) {
    status("backend", message(error), true);
  }
  if (params.get("dataset") === "shapes") {
    useShapes();
    await train();
  } else if (params.has("dataset")) {
    const error = `unknown dataset '${params.get("dataset")}': the page knows 'shapes'`;
    status("data-status", error, true);
    $("result").textContent = JSON.stringify({ error });
  }
}

void start();
