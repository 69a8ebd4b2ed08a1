// Gradient parity for every zoo model on WebGPU: one training step through the trainer's own step
// function (batchStep, lean batch-norm path, Adam), from the same weights and batch, on webgpu and
// on wasm, gives the same loss, the same gradients, the same batch-norm moving statistics, Adam's
// update of each backend's own gradients, and the same inference-mode logits afterwards.
//
// Tolerances, per case, are relative L2 errors per variable (see _parity.ts: a variable whose true
// gradient is zero, such as the offset of a batch norm whose output only reaches later
// training-mode batch norms, is judged against the model's typical gradient size, not against its
// own rounding noise). They are set from the noise floor: the same comparison between wasm and
// tfjs' cpu backend, two fp32 implementations that sum in different orders, measured once with
// this helper (scratch runs, 2 shared cores; batch 4 at 32 px unless said):
//
//   model                         wasm vs cpu            webgpu vs wasm         tolerance
//                                 gradient   logits      gradient   logits      gradient logits
//   lenet, small-cnn, cifar-cnn   ≤ 9.5e-7   ≤ 1.3e-6    ≤ 9.4e-7   ≤ 8.4e-7    1e-4     1e-4
//   compact-cnn                   1.5e-6     1.6e-7      1.7e-6     1.7e-7      1e-4     1e-3
//   vgg11-bn (batch 2)            1.2e-5     3.9e-4      1.1e-5     3.9e-4      1e-4     2e-3
//   resnet18, CIFAR stem          4.1e-3     1.3e-4      4.1e-3     1.4e-4      1.5e-2   3e-3
//   resnet18, ImageNet stem       1.7e-4     6.2e-4      1.9e-4     7.1e-4      1e-3     3e-3
//   mobilenetv2                   1.5e-2     7.8e-3      2.0e-2     8.4e-3      5e-2     3e-2
//   mobilenetv3-large             4.5e-3     8.1e-3      5.0e-3     1.1e-2      2e-2     4e-2
//   efficientnet-b0               2.5e-5     1.8e-2      2.7e-5     2.0e-2      1e-3     6e-2
//   resnet50                      3.8e-2     1.7e-2      3.3e-2     7.0e-3      1.2e-1   5e-2
//
// WebGPU sits at the floor everywhere. A tolerance is 3× to 100× the floor, and at least 1e-4: a
// wrong kernel shows as an error of order 1. The floor is high for deep batch-norm nets because at
// batch 4 and 32 px their last stages normalise a few values per channel, and rounding noise is
// amplified through every normalisation below it (at batch 2, with 1×1 maps, even the loss
// differed by 3e-3 between wasm and cpu). Adam's first step moves each weight by lr·g/(|g| + ε),
// ±lr wherever |g| ≫ ε, so a gradient element that is only noise can flip sign between backends
// and move its weight the other way (2·lr): the update is checked per backend against Adam's
// formula on that backend's own gradients, and the logits after the update carry the floor of
// those flips.
//
// The cases (tests/backend/_parity_cases.ts) cover every zoo model. Here, ~25 s on lavapipe on 2
// quiet cores: every model but resnet50, whose case (28 s alone) runs in `deno task test:long`
// (tests/long/webgpu_parity.ts) with resnet18's CIFAR-stem case (10 s; resnet18 is covered here
// with the ImageNet stem).
import { registerParityTests } from "./_parity_cases.ts";

registerParityTests("quick");
