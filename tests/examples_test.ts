// The examples under examples/ run as a user runs them (a `deno run` child each, with the
// permissions examples/run_all.ts gives it), in run_all's order (export_onnx and gradcam use the
// model train_folder saves), and each one's output says it did its job: an accuracy above
// chance, weights read back from the .pth unchanged, ONNX Runtime's logits within 1e-4 of TF.js's,
// a seeded transform that repeats, a sweep that recorded every trial. About 80 s on 2 cores.
import assert from "node:assert/strict";
import { denoArgs, EXAMPLES } from "../examples/run_all.ts";
import { readStateDict } from "../mod.ts";
import { pythonImports, runPython } from "./pretrained/_python.ts";

/** Runs one example; returns its stdout, after asserting it exited with 0. */
async function run(file: string): Promise<string> {
  const example = EXAMPLES.find((entry) => entry.file === file)!;
  const { code, stdout, stderr } = await new Deno.Command("deno", { args: denoArgs(example) })
    .output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(
    code,
    0,
    `examples/${file} exited with ${code}:\n${out}\n${new TextDecoder().decode(stderr)}`,
  );
  return out;
}

/** The first number captured by `pattern` in `text` (which must match). */
function number(text: string, pattern: RegExp): number {
  const match = text.match(pattern);
  assert.ok(match, `no ${pattern} in:\n${text}`);
  return Number(match[1]);
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("examples: each runs and does what its header says", async (t) => {
  assert.deepEqual(EXAMPLES.map((entry) => entry.file), [
    "train_folder.ts",
    "finetune_pth.ts",
    "custom_model.ts",
    "custom_transform.ts",
    "export_onnx.ts",
    "gradcam.ts",
    "sweep.ts",
  ]);

  await t.step(
    "train_folder: 8 epochs on the photos, above the majority class, saved",
    async () => {
      const out = await run("train_folder.ts");
      assert.equal(out.match(/^epoch \d: loss [\d.]+ accuracy [\d.]+% val_loss/gm)?.length, 8);
      // 83 of the 153 validation photos are bees: 54.2% for always saying "bees".
      assert.ok(number(out, /^val accuracy ([\d.]+)% on wasm$/m) >= 60, out);
      const saved = "data/examples/train_folder/model";
      assert.ok(await exists(`${saved}/model.json`));
      const preprocessing = JSON.parse(await Deno.readTextFile(`${saved}/preprocessing.json`));
      assert.deepEqual(preprocessing.classes, ["ants", "bees"]);
    },
  );

  await t.step("finetune_pth: the stand-in .pth loads unchanged and the head trains", async () => {
    const out = await run("finetune_pth.ts");
    assert.match(out, /resnet18\.pth: 102 tensors of a torchvision resnet18$/m);
    assert.equal(number(out, /^conv1\.weight: max \|file - model\| = (\S+)$/m), 0);
    assert.match(out, /^froze \d+ layers/m);
    assert.equal(out.match(/^epoch \d: loss [\d.]+ accuracy/gm)?.length, 3);
    const accuracy = number(out, /^val accuracy ([\d.]+)% fine-tuned from/m);
    assert.ok(accuracy >= 0 && accuracy <= 100);
    const bytes = await Deno.readFile("data/examples/finetune_pth/resnet18.pth");
    const stateDict = readStateDict(bytes, { source: "resnet18.pth" });
    assert.deepEqual(stateDict.get("fc.weight")?.shape, [1000, 512]);
  });

  await t.step({
    name: "finetune_pth: torch.load reads the stand-in .pth as torchvision's resnet18",
    ignore: !await pythonImports("torch", "torchvision"),
    fn: async () => {
      const out = await runPython([
        "-c",
        "import torch, torchvision\n" +
        "sd = torch.load('data/examples/finetune_pth/resnet18.pth')\n" +
        "missing, unexpected = torchvision.models.resnet18().load_state_dict(sd, strict=False)\n" +
        "print(type(sd).__name__, len(sd), len(unexpected), sd['conv1.weight'].shape)",
      ]);
      assert.equal(out.trim(), "OrderedDict 102 0 torch.Size([64, 3, 7, 7])");
    },
  });

  await t.step("custom_model: registered, created by name, learns", async () => {
    const out = await run("custom_model.ts");
    assert.match(out, /^models: .*\btiny-resnet\b/m);
    assert.match(out, /^tiny-resnet: \d+ parameters/m);
    assert.ok(number(out, /^val accuracy ([\d.]+)% \(10 classes\)$/m) >= 20, out); // chance: 10%
  });

  await t.step(
    "custom_transform: erases, repeats with the seed, changes with the epoch",
    async () => {
      const out = await run("custom_transform.ts");
      const erased = [...out.matchAll(/^image \d \((?:ants|bees)\): ([\d.]+)% erased$/gm)]
        .map((match) => Number(match[1]));
      assert.equal(erased.length, 8);
      assert.ok(erased.some((share) => share > 0) && erased.every((share) => share < 50), out);
      assert.match(out, /^same seed, same epoch: identical batch true$/m);
      assert.match(out, /^same seed, next epoch: identical batch false$/m);
      assert.ok(await exists("data/examples/custom_transform/batch.png"));
    },
  );

  await t.step("export_onnx: ONNX Runtime agrees with TF.js", async () => {
    const out = await run("export_onnx.ts");
    assert.ok(number(out, /^val accuracy ([\d.]+)%, macro F1/m) >= 60, out);
    assert.match(out, /opset 13, \d+ nodes, input \[batch,3,64,64\] -> logits \[batch,2\]/);
    assert.ok(number(out, /max \|logit difference\| (\S+)$/m) < 1e-4, out);
    assert.match(out, /^same predicted class for 153 of 153 photos$/m);
  });

  await t.step("gradcam: a heatmap of the bee photo, as text and PNG", async () => {
    const out = await run("gradcam.ts");
    assert.match(out, /^layer \S+, explaining '(ants|bees)'$/m);
    const rows = out.match(/^ {2}\|[ .:\-=+*#%@]{32}\|$/gm) ?? [];
    assert.equal(rows.length, 8, out);
    assert.match(rows.join(""), /@/, "the heatmap's maximum (1) is in some cell");
    assert.ok(await exists("data/examples/gradcam/explained.png"));
  });

  await t.step("sweep: four trials recorded, the best one named", async () => {
    const out = await run("sweep.ts");
    assert.equal(out.match(/^t00\d done val_accuracy=/gm)?.length, 4, out);
    const best = number(out, /^best: t00\d lr=\S+ label-smoothing=\S+ val_accuracy=([\d.]+)$/m);
    const log = await Deno.readTextFile("data/examples/sweep/lr-smoothing/sweep.jsonl");
    const records = log.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(records.length, 4);
    assert.equal(best.toFixed(3), Math.max(...records.map((r) => r.objective)).toFixed(3));
  });
});
