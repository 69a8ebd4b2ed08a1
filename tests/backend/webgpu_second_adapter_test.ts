// The WebGPU tests on a second adapter: wgpu shows one process the adapters of one graphics API
// (lavapipe through Vulkan when Mesa's Vulkan driver is installed), so where another API has an
// adapter too (llvmpipe through OpenGL), the real-device test and the small parity cases run again
// in a child `deno test` restricted to that API with DENO_WEBGPU_BACKEND.
import assert from "node:assert/strict";
import { describeAdapter, listWebGpuAdapters } from "../../mod.ts";

/** The Deno executable this test may run, or null (then the test is skipped). */
function runnableDeno(): string | null {
  for (const command of [Deno.execPath(), "deno"]) {
    if (Deno.permissions.querySync({ name: "run", command }).state === "granted") return command;
  }
  return null;
}

const deno = runnableDeno();
const others = deno === null
  ? []
  : (await listWebGpuAdapters()).filter((report) => report.env !== undefined);

for (const report of others) {
  const line = describeAdapter(report.adapter, report.api);
  Deno.test({
    name: `WebGPU tests again on the second adapter: ${line} (${report.env})`,
    fn: async () => {
      const [name, value] = report.env!.split("=");
      const output = await new Deno.Command(deno!, {
        args: [
          "test",
          "--allow-read",
          "--allow-write=data",
          "--filter",
          "/conv2d|step of lenet |step of compact-cnn \\(32 px, batch 4; batch norm/",
          "tests/backend/webgpu_real_test.ts",
          "tests/backend/webgpu_parity_test.ts",
        ],
        env: { [name]: value, XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert.ok(output.success, text);
      console.log(`ran on ${line}: ${text.match(/ok \| \d+ passed[^\n]*/)?.[0]}`);
      assert.match(text, /ok \| [3-9] passed \| 0 failed/);
      // The child's test names say which adapter they ran on.
      assert.ok(text.includes(line), `the child did not run on ${line}:\n${text}`);
    },
  });
}
