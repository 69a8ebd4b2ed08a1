import assert from "node:assert/strict";
import { infoCommand } from "../../cli/info.ts";

async function capture(body: () => Promise<number>): Promise<{ code: number; lines: string[] }> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
  try {
    const code = await body();
    return { code, lines: lines.join("\n").split("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test({
  name: "info --json ends with one JSON object listing the backends and versions",
  sanitizeOps: false, // the WebGPU probe leaves the device's `lost` promise pending
  sanitizeResources: false,
  fn: async () => {
    const { code, lines } = await capture(() => infoCommand(["--json"]));
    assert.equal(code, 0);
    const info = JSON.parse(lines.at(-1)!);
    assert.equal(info.tfjs.core, "4.22.0");
    assert.equal(info.runtime.deno, Deno.version.deno);
    const byName = Object.fromEntries(
      info.backends.map((b: { name: string; available: boolean }) => [b.name, b.available]),
    );
    assert.equal(byName.wasm, true);
    assert.equal(byName.cpu, true);
    assert.equal(typeof info.wasm.simd, "boolean");
    const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
    if (adapter) {
      assert.equal(byName.webgpu, true, "webgpu initialises where an adapter exists");
      assert.equal(typeof info.webgpu.adapter.description, "string");
      assert.ok(info.webgpu.limits.maxStorageBufferBindingSize > 0);
    }
  },
});

Deno.test({
  name: "info prints a human summary and accepts --help",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const text = await capture(() => infoCommand([]));
    assert.match(text.lines.join("\n"), /Backends:\n {2}webgpu/);
    assert.match(text.lines.join("\n"), /wasm: SIMD (yes|no), threads (yes|no)/);
    const help = await capture(() => infoCommand(["--help"]));
    assert.match(help.lines[0], /^Usage: deno task info/);
  },
});

Deno.test("an unknown flag is a usage error with a suggestion", async () => {
  await assert.rejects(() => infoCommand(["--jsno"]), /unknown flag --jsno; did you mean --json\?/);
});
