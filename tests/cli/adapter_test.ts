// `deno task info` lists every WebGPU adapter; `--adapter` picks one, and a bad value, or an adapter
// with a CPU backend, is a one-line usage error.
import assert from "node:assert/strict";
import { infoCommand } from "../../cli/info.ts";
import { trainCommand } from "../../cli/train.ts";
import { UsageError } from "../../cli/_args.ts";
import { selectBackend } from "../../mod.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);

Deno.test({
  name:
    "info --json lists the adapters with their API, kind, features, limits and --adapter choices",
  ignore: adapter == null,
  sanitizeOps: false, // the WebGPU probe leaves the device's `lost` promise pending
  sanitizeResources: false,
  fn: async () => {
    const log = console.log;
    const lines: string[] = [];
    console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
    try {
      assert.equal(await infoCommand(["--json"]), 0);
    } finally {
      console.log = log;
    }
    const info = JSON.parse(lines.at(-1)!);
    assert.ok(info.adapters.length >= 1);
    const here = info.adapters.filter((a: { choices: string[] }) => a.choices.length > 0);
    assert.ok(here.length >= 1, "an adapter this process can pick");
    // Every choice is answered by some adapter, and no adapter is listed twice.
    const choices = here.flatMap((a: { choices: string[] }) => a.choices).sort();
    assert.deepEqual(choices, ["high-performance", "low-power", "software"]);
    const keys = info.adapters.map((a: object) => JSON.stringify({ ...a, choices: 0, env: 0 }));
    assert.equal(new Set(keys).size, keys.length);
    for (const report of info.adapters) {
      assert.ok(["vulkan", "gl", "metal", "dx12", "unknown"].includes(report.api));
      assert.equal(typeof report.software, "boolean");
      assert.ok(report.limits.maxStorageBufferBindingSize > 0);
      assert.ok(Array.isArray(report.features));
    }
  },
});

Deno.test("a bad --adapter is a one-line usage error naming the choices", async () => {
  await assert.rejects(
    () => trainCommand(["--adapter", "fastest", "--epochs", "1"]),
    (error: unknown) =>
      error instanceof UsageError && !error.message.includes("\n") &&
      error.message ===
        "unknown adapter 'fastest': expected high-performance, low-power or software",
  );
  await assert.rejects(
    () => trainCommand(["--backend", "wasm", "--adapter", "software"]),
    /--adapter software needs --backend webgpu or auto, not wasm/,
  );
  await assert.rejects(
    () => selectBackend("cpu", { adapter: "low-power" }),
    /needs --backend webgpu or auto/,
  );
});

Deno.test({
  name: "--adapter software selects WebGPU on the fallback adapter and names it in one line",
  ignore: adapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const lines: string[] = [];
    const selected = await selectBackend("auto", {
      adapter: "software",
      log: (line) => lines.push(line),
    });
    assert.equal(selected.name, "webgpu");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^backend: webgpu on .*, a software adapter on /);
    await selectBackend("wasm", { log: () => {} });
  },
});
