// The slowest WebGPU parity cases (see tests/backend/webgpu_parity_test.ts): resnet18 with the
// CIFAR stem, mobilenetv3-large, efficientnet-b0 and resnet50, one training step each on webgpu
// and on wasm, compared.
import { registerParityTests } from "../backend/_parity_cases.ts";

registerParityTests("long");
