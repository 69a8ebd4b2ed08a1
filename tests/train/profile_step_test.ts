// bench/profile_step.ts (`deno task bench:profile`): one step of LeNet profiled on wasm lists
// the training kernels, ours included, with their calls: LeNet's layers as fused ops.
import assert from "node:assert/strict";
import { profileStep } from "../../bench/profile_step.ts";

Deno.test("bench:profile lists a LeNet step's kernels on wasm, largest first", async () => {
  const { msPerStep, threads, kernels } = await profileStep([
    "--model",
    "lenet",
    "--batch-size",
    "8",
    "--steps",
    "1",
  ]);
  assert.ok(msPerStep > 0 && threads >= 1);
  const names = kernels.map((k) => k.kernel);
  // Each conv + bias + ReLU + pool is one op forward (conv_relu_pool.ts); backward, its 5×5
  // layers' gradients come from the windows the pool routes to (pool_routed_grad.ts).
  const expected = [
    "DenovisionConvReluPool",
    "DenovisionPoolRoute",
    "DenovisionRoutedFilterGrad",
    "DenovisionRoutedInputGrad",
  ];
  for (const kernel of expected) assert.ok(names.includes(kernel), `${kernel} in ${names.join()}`);
  for (const kernel of ["FusedConv2D", "MaxPool", "MaxPoolGrad", "Conv2DBackpropFilter"]) {
    assert.ok(!names.includes(kernel), `no ${kernel} in ${names.join()}`);
  }
  // LeNet's first layer needs no input gradient: the tape prunes it, so one call, not two.
  assert.equal(kernels.find((k) => k.kernel === "DenovisionRoutedInputGrad")!.calls, 1);
  assert.ok(kernels.every((k, i) => i === 0 || kernels[i - 1].ms >= k.ms));
});
