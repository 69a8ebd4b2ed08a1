import assert from "node:assert/strict";
import { UsageError } from "../../cli/_args.ts";
import { camelCase, readConfigFile, toConfigOverrides } from "../../cli/_config.ts";
import { describeDenial, widen } from "../../cli/_permissions.ts";
import { evalCommand } from "../../cli/eval.ts";
import { predictCommand } from "../../cli/predict.ts";
import { benchCommand } from "../../cli/bench.ts";
import { TRAIN_FLAGS, trainCommand } from "../../cli/train.ts";
import { parseArgs } from "../../cli/_args.ts";
import { datasetHosts, TORCHVISION_MODELS } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

async function quietly<T>(body: () => Promise<T>): Promise<{ result: T; out: string }> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
  try {
    return { result: await body(), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("train: unknown flags fail with a suggestion, --help shows options and examples", async () => {
  await assert.rejects(
    () => trainCommand(["--epoch", "3"]),
    /unknown flag --epoch; did you mean --epochs\?/,
  );
  await assert.rejects(() => trainCommand(["--batchsize", "3"]), /did you mean --batch-size\?/);
  await assert.rejects(() => trainCommand(["--epochs", "0"]), UsageError);
  const { result, out } = await quietly(() => trainCommand(["--help"]));
  assert.equal(result, 0);
  assert.match(out, /--pretrained/);
  assert.match(out, /Examples:\n {2}deno task train /);
});

Deno.test("bench <kind> --help prints the kind's options", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    assert.equal(await benchCommand(["pipeline", "--help"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines.join("\n"), /^Usage: deno task bench pipeline \[--root DIR\]/);
});

Deno.test("bench mnist-protocol names a bad --threads value as given", async () => {
  const { runMnistProtocol } = await import("../../bench/mnist_protocol.ts");
  await assert.rejects(
    () => runMnistProtocol(["--threads", "abc"]),
    /--threads must be a whole number from 1 to 8, got abc/,
  );
});

Deno.test("eval needs a run; predict a run or pretrained weights, not both", async () => {
  await assert.rejects(() => evalCommand([]), /--run <run directory> is required/);
  const either = /give either --run <run directory> or --pretrained <weights>/;
  await assert.rejects(() => predictCommand(["x.jpg"]), either);
  await assert.rejects(
    () => predictCommand(["--run", "runs/x", "--pretrained", "torchvision:resnet18", "x.jpg"]),
    either,
  );
  await assert.rejects(() => predictCommand(["--run", "runs/x"]), /name at least one image/);
});

Deno.test("only flags the user gave override the config file; --no-cache turns the cache off", () => {
  const parsed = parseArgs(["--epochs", "3", "--no-cache", "--batch-size", "64"], TRAIN_FLAGS);
  assert.deepEqual(toConfigOverrides(parsed, TRAIN_FLAGS), {
    epochs: "3",
    cache: false,
    batchSize: "64", // given explicitly, even though it equals the default
  });
  assert.equal(camelCase("label-smoothing"), "labelSmoothing");
});

Deno.test("config files: kebab or camel keys; a bad file is one clear error naming it", async () => {
  const dir = await tempDir("config-");
  await Deno.writeTextFile(`${dir}/ok.json`, JSON.stringify({ "batch-size": 8, lr: 0.01 }));
  assert.deepEqual(await readConfigFile(`${dir}/ok.json`), { batchSize: 8, lr: 0.01 });
  await Deno.writeTextFile(`${dir}/bad.json`, "{ epochs: 3 }");
  await assert.rejects(() => readConfigFile(`${dir}/bad.json`), /bad\.json: not valid JSON/);
  await Deno.writeTextFile(`${dir}/list.json`, "[1]");
  await assert.rejects(() => readConfigFile(`${dir}/list.json`), /expected a JSON object/);
  await assert.rejects(() => readConfigFile(`${dir}/none.json`), /none\.json: file not found/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a refused permission becomes one line with the command that allows it", () => {
  const line = describeDenial(
    'Requires read access to "../photos/train/cats", run again with the --allow-read flag',
    "train",
    ["--dataset", "../photos"],
  );
  assert.match(line, /^read access to \.\.\/photos\/train\/cats was refused/);
  assert.match(line, /deno run --allow-read=\.,\.\.\/photos --allow-write=runs,data /);
  assert.match(line, /cli\/main\.ts train --dataset \.\.\/photos$/);
  assert.ok(!line.includes("\n"));
  assert.equal(
    widen("deno run --allow-read=. cli/main.ts predict", "write", "out"),
    "deno run --allow-read=. --allow-write=out cli/main.ts predict",
  );
});

Deno.test("deno.json: no -A anywhere; train writes only runs/ and data/ and reaches only the mirrors", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json")) as {
    tasks: Record<string, string>;
  };
  for (const [name, line] of Object.entries(tasks)) {
    assert.doesNotMatch(line, /(^|\s)(-A|--allow-all)(\s|$)/, name);
    assert.doesNotMatch(line, /--allow-ffi/, name);
    // Only test suites spawn processes: the long one Deno itself (to kill and interrupt training
    // runs), the default one Debian's python3 (PyTorch side-by-side checks, where installed),
    // deno and Debian's chromium (the HTTP server's child-process and page tests); and info runs
    // Deno once per graphics API (DENO_WEBGPU_BACKEND) to list the adapters of each; sweep runs
    // each trial as a `deno task train` child (the train task's own permissions); the default
    // suite and the long one also start Debian's redis-server (the sweep queue's tests); examples
    // runs each example as a `deno run` child with that example's own narrow permissions; web
    // runs `deno info` (the page's import graph) and `deno bundle` (the page's bundle).
    if (name === "info" || name === "sweep" || name === "examples" || name === "web") {
      assert.match(line, /--allow-run=deno(\s|$)/);
    } else if (name === "test:long") {
      assert.match(line, /--allow-run=deno,\/usr\/bin\/redis-server(\s|$)/);
    } else if (name === "test") {
      assert.match(
        line,
        /--allow-run=\/usr\/bin\/python3,deno,\/usr\/bin\/chromium,\/usr\/bin\/redis-server(\s|$)/,
      );
    } else assert.doesNotMatch(line, /--allow-run/, name);
    // sweep and worker talk to any redis-server (--queue redis://host:port) through BullMQ,
    // whose Redis client lists the whole environment when it loads (the `debug` package).
    if (name === "sweep" || name === "worker") {
      assert.match(line, /--allow-net --allow-env /, name);
      continue;
    }
    assert.doesNotMatch(line, /--allow-env(\s|$)/, `${name}: env only for named variables`);
  }
  const flag = (line: string, name: string) => new RegExp(`--allow-${name}=(\\S+)`).exec(line)?.[1];
  assert.equal(flag(tasks.train, "write"), "runs,data");
  const torchvision = new URL(TORCHVISION_MODELS.resnet18.url).hostname;
  assert.deepEqual(
    flag(tasks.train, "net")?.split(",").sort(),
    [...datasetHosts(), torchvision].sort(),
  );
  assert.equal(flag(tasks.eval, "net"), undefined);
  // predict may fetch torchvision's weights (--pretrained torchvision:<name>), nothing else.
  assert.equal(flag(tasks.predict, "write"), "data/weights");
  assert.equal(flag(tasks.predict, "net"), torchvision);
});

Deno.test("writing outside data/ is refused under the test task's permissions", async () => {
  const state = await Deno.permissions.query({ name: "write", path: "runs/probe" });
  assert.notEqual(state.state, "granted");
  await assert.rejects(
    () => Deno.writeTextFile("../outside-probe.txt", "x"),
    Deno.errors.NotCapable,
  );
});
