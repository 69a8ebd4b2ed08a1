import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { BackendUnavailableError, parseBackendChoice, selectBackend } from "../../mod.ts";
import { fakeGpu } from "./_fake_gpu.ts";

Deno.test("auto falls back to wasm with one line when there is no adapter", async () => {
  const lines: string[] = [];
  const selected = await selectBackend("auto", {
    gpu: fakeGpu({ noAdapter: true }),
    log: (line) => lines.push(line),
  });
  assert.equal(selected.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(selected.fellBack, true);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^backend: wasm, because no WebGPU adapter found/);
});

Deno.test("auto skips a software adapter such as llvmpipe", async () => {
  const lines: string[] = [];
  const selected = await selectBackend("auto", {
    gpu: fakeGpu({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }),
    log: (line) => lines.push(line),
  });
  assert.equal(selected.name, "wasm");
  assert.match(lines[0], /software renderer \(llvmpipe/);
});

Deno.test("a named backend is used as asked, without a fallback notice", async () => {
  const lines: string[] = [];
  for (const name of ["cpu", "wasm"] as const) {
    const selected = await selectBackend(name, { log: (line) => lines.push(line) });
    assert.equal(selected.name, name);
    assert.equal(tf.getBackend(), name);
  }
  assert.deepEqual(lines, []);
});

Deno.test("a named backend that cannot start is an error, not a silent fallback", async () => {
  tf.registerBackend("broken-for-test", () => {
    throw new Error("driver missing");
  });
  const { useBackend } = await import("../../mod.ts");
  await assert.rejects(
    () => useBackend("broken-for-test" as "cpu"),
    (error: unknown) =>
      error instanceof BackendUnavailableError && /driver missing/.test(error.message),
  );
  tf.removeBackend("broken-for-test");
});

Deno.test("parseBackendChoice accepts the four names and rejects others", () => {
  assert.equal(parseBackendChoice("auto"), "auto");
  assert.equal(parseBackendChoice(" WebGPU "), "webgpu");
  assert.throws(() => parseBackendChoice("cuda"), /unknown backend 'cuda': expected auto, webgpu/);
});
