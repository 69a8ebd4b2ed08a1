// Internal test helper: the WebGPU parity cases and their test (see webgpu_parity_test.ts for
// what is compared and how the tolerances were set).
import assert from "node:assert/strict";
import {
  describeAdapter,
  inferGraphicsApi,
  readAdapterInfo,
  type WebGpuAdapterLike,
} from "../../mod.ts";
import { adamResidual, gradientErrors, relativeL2, runStep, type StepCase } from "./_parity.ts";

export const gpuAdapter = await navigator.gpu?.requestAdapter().catch(() => null);
export const adapterLine = gpuAdapter
  ? describeAdapter(
    await readAdapterInfo(gpuAdapter as unknown as WebGpuAdapterLike),
    inferGraphicsApi(gpuAdapter.features),
  )
  : "no adapter";
if (gpuAdapter) console.log(`WebGPU parity tests run on: ${adapterLine}`);

interface ParityCase extends StepCase {
  /** In `deno task test:long` (a minute or more on lavapipe) instead of `deno task test`. */
  long?: boolean;
  /** What the case covers besides the model. */
  covers: string;
  /** Tolerance on gradients and moving statistics (relative L2). */
  gradTol: number;
  /** Tolerance on the loss (relative). */
  lossTol?: number;
  /** Tolerance on inference-mode logits after the update (relative L2). */
  logitsTol: number;
}

const PLAIN = { gradTol: 1e-4, logitsTol: 1e-4 };
const CASES: ParityCase[] = [
  { model: "lenet", side: 28, channels: 1, batch: 4, covers: "conv, max pool, dense", ...PLAIN },
  {
    model: "small-cnn",
    side: 28,
    channels: 1,
    batch: 4,
    covers: "same padding, dropout with the run's seed",
    ...PLAIN,
  },
  { model: "cifar-cnn", side: 32, batch: 2, covers: "explicit zero padding, fc 512", ...PLAIN },
  {
    model: "compact-cnn",
    side: 32,
    batch: 4,
    covers: "batch norm (train and inference), global pooling",
    gradTol: 1e-4,
    logitsTol: 1e-3,
  },
  {
    model: "compact-cnn",
    side: 32,
    batch: 4,
    mixupAlpha: 0.4,
    covers: "MixUp soft targets",
    gradTol: 1e-4,
    logitsTol: 1e-3,
  },
  {
    model: "compact-cnn",
    side: 32,
    batch: 4,
    freezeUpTo: true,
    covers: "frozen prefix run outside the tape, frozen batch norm in inference mode",
    gradTol: 1e-4,
    logitsTol: 1e-4,
  },
  {
    model: "vgg11-bn",
    side: 32,
    batch: 2,
    covers: "VGG + batch norm",
    gradTol: 1e-4,
    logitsTol: 2e-3,
  },
  {
    model: "resnet18",
    side: 32,
    batch: 4,
    long: true,
    covers: "CIFAR stem, residual adds, fused BN + ReLU",
    gradTol: 1.5e-2,
    logitsTol: 3e-3,
  },
  {
    model: "resnet18",
    side: 32,
    batch: 4,
    stem: "imagenet",
    covers: "ImageNet stem: 7×7/2 conv, max pool 3×3/2 with padding 1",
    // Its last stage normalises 4 values per channel: the loss differs by 1.3e-5 since wasm's
    // batch norm sums in double precision (webgpu and cpu in single).
    lossTol: 1e-4,
    gradTol: 1e-3,
    logitsTol: 3e-3,
  },
  {
    model: "mobilenetv2",
    side: 32,
    batch: 4,
    covers: "depthwise, ReLU6, inverted residuals, dropout",
    gradTol: 5e-2,
    logitsTol: 3e-2,
  },
  {
    model: "mobilenetv3-large",
    side: 32,
    batch: 4,
    covers: "hard-swish, squeeze-excitation",
    gradTol: 2e-2,
    logitsTol: 4e-2,
  },
  {
    model: "efficientnet-b0",
    side: 32,
    batch: 4,
    covers: "SiLU, depthwise 5×5, squeeze-excitation",
    gradTol: 1e-3,
    logitsTol: 6e-2,
  },
  {
    model: "resnet50",
    long: true,
    side: 32,
    batch: 4,
    covers: "bottlenecks",
    // wasm runs its 3×3 layers by Winograd's F(2×2, 3×3), whose transforms round differently
    // from direct sums: its loss is 1.4e-5 from the cpu backend's (direct kernels: 3.8e-7,
    // webgpu: 3.5e-6), after 16 such layers and their batch norms.
    lossTol: 5e-5,
    gradTol: 1.2e-1,
    logitsTol: 5e-2,
  },
];

/** Registers a Deno test per parity case: the quick ones, or those of the long suite. */
export function registerParityTests(suite: "quick" | "long"): void {
  for (const c of CASES.filter((c) => (c.long === true) === (suite === "long"))) {
    registerCase(c);
  }
}

function registerCase(c: ParityCase) {
  const stem = c.stem ? `, ${c.stem} stem` : "";
  Deno.test({
    name:
      `webgpu = wasm, one training step of ${c.model} (${c.side} px${stem}, batch ${c.batch}; ` +
      `${c.covers}) on ${adapterLine}`,
    ignore: gpuAdapter == null,
    // tfjs-webgpu keeps buffer-mapping promises and the device open beyond one test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const wasm = await runStep("wasm", c);
      const gpu = await runStep("webgpu", c, wasm.initial);
      const lossError = Math.abs(gpu.loss - wasm.loss) / Math.abs(wasm.loss);
      assert.ok(lossError <= (c.lossTol ?? 1e-5), `loss ${gpu.loss} vs ${wasm.loss}`);
      assert.equal(gpu.grads.length, wasm.grads.length);
      assert.ok(gpu.grads.length > 0, "a gradient per trainable weight");
      const errors = gradientErrors(gpu.grads, wasm.grads);
      errors.forEach((error, i) =>
        assert.ok(error <= c.gradTol, `gradient of ${wasm.gradNames[i]}: error ${error}`)
      );
      for (const result of [wasm, gpu]) {
        const residual = adamResidual(result);
        assert.ok(residual <= 1, `Adam's update departs from its formula by ${residual}`);
      }
      // Weights that are not trained: batch norm's moving statistics, and frozen layers. A
      // moving mean whose exact value is 0 is judged, like a zero gradient, against the size of
      // the model's statistics.
      const fixed = wasm.weights.map((_, i) => i).filter((i) => !wasm.trainableAt.includes(i));
      const fixedErrors = gradientErrors(
        fixed.map((i) => gpu.weights[i]),
        fixed.map((i) => wasm.weights[i]),
      );
      fixedErrors.forEach((error, k) =>
        assert.ok(error <= c.gradTol, `${wasm.weightNames[fixed[k]]}: error ${error}`)
      );
      const logitsError = relativeL2(gpu.inference, wasm.inference);
      assert.ok(logitsError <= c.logitsTol, `inference logits: error ${logitsError}`);
    },
  });
}
