// The slowest WebGPU parity cases (see tests/backend/webgpu_parity_test.ts): resnet50, and
// resnet18 with the CIFAR stem, one training step each on webgpu and on wasm, compared.
import { registerParityTests } from "../backend/_parity_cases.ts";

registerParityTests("long");
