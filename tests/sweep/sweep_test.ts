import assert from "node:assert/strict";
import {
  planTrials,
  readSweepLog,
  resolveSweepConfig,
  runSweep,
  type TrialOutcome,
  trialState,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";
import { makeColorFolder } from "../_images.ts";
import { dumpDom, hasChromium } from "../_chromium.ts";

const done = (objective: number): TrialOutcome => ({
  status: "done",
  objective,
  epochs: 2,
  curve: [objective / 2, objective],
  resumed: false,
  seconds: 0,
});

Deno.test("sweep plans: random draws repeat for a seed, grid enumerates lists, bad spaces are one line", () => {
  const space = { lr: { log_uniform: [1e-4, 1e-2] }, "batch-size": [32, 64], model: ["a", "b"] };
  const a = planTrials(resolveSweepConfig({ name: "s", seed: 7, trials: 5, space }));
  const b = planTrials(resolveSweepConfig({ name: "s", seed: 7, trials: 5, space }));
  const c = planTrials(resolveSweepConfig({ name: "s", seed: 8, trials: 5, space }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  for (const { params } of a) {
    assert.ok((params.lr as number) >= 1e-4 && (params.lr as number) <= 1e-2);
  }
  const grid = planTrials(
    resolveSweepConfig({
      name: "g",
      strategy: "grid",
      space: { lr: [0.1, 0.01], seed: [0, 1, 2] },
    }),
  );
  assert.equal(grid.length, 6);
  assert.throws(
    () => planTrials(resolveSweepConfig({ name: "g", strategy: "grid", space })),
    /lr: grid search needs a list/,
  );
  assert.throws(() => resolveSweepConfig({ name: "s", space: { lr: [] } }), /lr: an empty list/);
  assert.throws(() => resolveSweepConfig({ name: "a/b", space: { lr: [1] } }), /^SweepConfigError/);
  assert.throws(() => resolveSweepConfig({ name: "s", space: { lr: [1] }, trails: 3 }), /'trails'/);
  assert.equal(
    resolveSweepConfig({ name: "s", space: { lr: [1] }, metric: "val_loss" }).objective.direction,
    "min",
  );
});

Deno.test("runSweep records each trial once; a stopped sweep resumes with the rest", async () => {
  const out = await tempDir("sweep-");
  const config = resolveSweepConfig({
    name: "resume",
    out,
    trials: 5,
    parallel: 2,
    space: { lr: { uniform: [0, 1] } },
  });
  const calls: string[] = [];
  const controller = new AbortController();
  const first = await runSweep(config, {
    signal: controller.signal,
    runTrial: (trial) => {
      calls.push(trial.name);
      if (calls.length === 2) controller.abort();
      return Promise.resolve(done(trial.params.lr as number));
    },
  });
  assert.equal(first.records.length, 2);
  const second = await runSweep(config, {
    runTrial: (trial) => {
      calls.push(trial.name);
      return Promise.resolve(done(trial.params.lr as number));
    },
  });
  assert.deepEqual(calls.sort(), ["t000", "t001", "t002", "t003", "t004"]);
  const lines = await readSweepLog(second.dir);
  assert.deepEqual(lines.map((r) => r.trial), ["t000", "t001", "t002", "t003", "t004"]);
  const best = Math.max(...lines.map((r) => r.objective!));
  assert.equal(second.best?.objective, best);
  const html = await Deno.readTextFile(`${second.dir}/sweep.html`);
  assert.match(html, new RegExp(`<tr class="best" data-trial="${second.best!.trial}">`));
  await Deno.remove(out, { recursive: true });
});

Deno.test({
  name: "embedded sweep: two trials train in parallel `deno task train` children into run dirs",
  fn: async () => {
    const out = await tempDir("sweep-run-");
    const dataset = `${out}/colors`;
    await makeColorFolder(dataset, { perClass: 6 });
    const config = resolveSweepConfig({
      name: "tiny",
      out,
      trials: 2,
      parallel: 2,
      seed: 3,
      fixed: {
        dataset,
        model: "compact-cnn",
        "img-size": 16,
        epochs: 1,
        "batch-size": 8,
        onnx: false,
        cache: false,
      },
      space: { lr: { log_uniform: [1e-3, 1e-2] }, seed: [0, 1] },
    });
    const lines: string[] = [];
    const result = await runSweep(config, { log: (line) => lines.push(line) });
    assert.equal(result.records.length, 2, lines.join("\n"));
    for (const record of result.records) {
      assert.equal(record.status, "done", record.error ?? "");
      assert.equal(record.epochs, 1);
      assert.equal(await trialState(record.run_dir), "done");
      const saved = JSON.parse(await Deno.readTextFile(`${record.run_dir}/config.json`));
      assert.equal(saved.lr, record.params.lr);
      assert.equal(saved.threads, 1); // two at once on the cores there are
    }
    if (hasChromium) {
      const page = new URL(`${result.dir}/sweep.html#sort=trial&desc`, `file://${Deno.cwd()}/`);
      const dom = await dumpDom(page, ["--allow-file-access-from-files"]);
      assert.match(dom, /<table id="trials" data-sortable="ready">/);
      // Sorted by trial, descending, by the page's own script.
      const order = [...dom.matchAll(/<tr (?:class="best" )?data-trial="(t\d+)"/g)].map((m) =>
        m[1]
      );
      assert.deepEqual(order, ["t001", "t000"]);
      assert.match(dom, /<tr class="best"/);
      assert.match(dom, /<svg id="parallel"[^]*<polyline class="trial/);
      assert.equal([...dom.matchAll(/<figure class="curve/g)].length, 2);
    }
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test("tpe: proposals steer toward the best region and survive a resume", async () => {
  const out = await tempDir("sweep-tpe-");
  const config = resolveSweepConfig({
    name: "tpe",
    out,
    strategy: "tpe",
    trials: 16,
    parallel: 2,
    seed: 2,
    space: { lr: { log_uniform: [1e-5, 1e-1] }, "batch-size": [16, 32, 64, 128] },
  });
  // The best lr is 1e-3, the best batch size 32.
  const score = (p: Record<string, unknown>) =>
    -Math.abs(Math.log10(p.lr as number) + 3) - (p["batch-size"] === 32 ? 0 : 0.5);
  const controller = new AbortController();
  let calls = 0;
  const runTrial = (trial: { params: Record<string, unknown> }) => {
    if (++calls === 6) controller.abort();
    return Promise.resolve(done(score(trial.params)));
  };
  const first = await runSweep(config, { runTrial, signal: controller.signal });
  assert.ok(first.records.length < 16);
  const proposed = JSON.parse(await Deno.readTextFile(`${first.dir}/proposals.json`));
  const second = await runSweep(config, { runTrial });
  assert.equal(second.records.length, 16);
  for (const record of first.records) assert.deepEqual(proposed[record.trial], record.params);
  const last = second.records.slice(8).map((r) => r.objective!);
  const firstFour = second.records.slice(0, 4).map((r) => r.objective!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(last) > mean(firstFour), `${mean(last)} vs ${mean(firstFour)}`);
  assert.ok(second.best!.objective! > -0.35, JSON.stringify(second.best));
  assert.throws(() => planTrials(config), /tpe proposes/);
  await Deno.remove(out, { recursive: true });
});
