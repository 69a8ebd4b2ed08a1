// Gradient parity for every zoo model on WebGPU: one training step through the trainer's own step
// function (batchStep, lean batch-norm path, Adam), from the same weights and batch, on webgpu and
// on wasm, gives the same loss, the same gradients, the same batch-norm moving statistics, Adam's
// update of each backend's own gradients, and the same inference-mode logits afterwards.
//
// Tolerances, per case, are relative L2 errors (see _parity.ts: a variable whose true gradient is
// zero is judged against the model's typical gradient size, not its own noise). They are set from
// the noise floor, the same comparison between wasm and tfjs' cpu backend (two fp32
// implementations that sum in different orders), measured once with scratch runs of this helper
// on a shared 2-core machine (`CPU=1`, see BENCHMARKS.md "WebGPU on lavapipe"):
//
//   model (input, batch)             wasm vs cpu: gradient   logits   webgpu vs wasm: gradient
//   plain CNNs (lenet … cifar-cnn)   ≤ 1.0e-6                ≤ 1.3e-6 ≤ 1.0e-6
//   compact-cnn, vgg11-bn             ≤ 1.2e-5                ≤ 4e-4   ≤ 1.1e-5
//   deep batch-norm nets at batch 2   ≤ 1e-2                  ≤ 3e-2   same order
//
// A case passes at 1e-4 for plain CNNs (100× their floor, 10⁴× below any real kernel bug, which
// shows as O(1)) and at 3× the measured floor for the batch-norm nets, whose batch of 2 makes
// batch norm divide by the spread of a few values: rounding noise in the deepest layers is
// amplified through every normalisation below it. Adam's first step moves each weight by
// ±lr·g/(|g| + ε), so a gradient element that is only noise can flip sign between backends and
// move its weight the other way (2·lr); the update is therefore checked per backend against Adam's
// formula on that backend's own gradients, and the logits after the update carry the floor of
// those flips. The cases (tests/backend/_parity_cases.ts) cover every zoo model; the four slowest on
// lavapipe (resnet18 with the CIFAR stem, mobilenetv3-large, efficientnet-b0, resnet50: up to
// two minutes each on 2 shared cores) run in `deno task test:long` (tests/long/webgpu_parity.ts),
// the others here.
import { registerParityTests } from "./_parity_cases.ts";

registerParityTests("quick");
