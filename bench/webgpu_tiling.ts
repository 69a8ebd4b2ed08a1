// How a WebGPU adapter runs a 512³ matrix product tiled three ways: in workgroup memory between
// barriers (8×8 threads, 4×4 values a thread, as tfjs-backend-webgpu's GEMMs do), and in
// registers with no workgroup memory, R rows × C vec4 columns a thread (as our kernels in
// lib/backend/_webgpu_kernels/_conv_gemm.ts do). Prints ms and GFLOP/s for each.
// Run: deno run --allow-env bench/webgpu_tiling.ts
const adapter = await navigator.gpu?.requestAdapter();
if (adapter == null) {
  console.error("no WebGPU adapter");
  Deno.exit(1);
}
const device = await adapter.requestDevice();
const [M, N, K] = [512, 512, 512];
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const [a, b, c] = [M * K, K * N, M * N].map((n) => device.createBuffer({ size: n * 4, usage }));
device.queue.writeBuffer(a, 0, new Float32Array(M * K).fill(1));
device.queue.writeBuffer(b, 0, new Float32Array(K * N).fill(1));

const BINDINGS = (element: string) => `
@group(0) @binding(0) var<storage, read> A : array<f32>;
@group(0) @binding(1) var<storage, read> B : array<${element}>;
@group(0) @binding(2) var<storage, read_write> C : array<${element}>;`;

const WORKGROUP_TILED = `${BINDINGS("f32")}
var<workgroup> As : array<array<f32, 32>, 32>;
var<workgroup> Bs : array<array<f32, 32>, 32>;
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(local_invocation_id) l : vec3<u32>, @builtin(workgroup_id) w : vec3<u32>) {
  let row0 = w.y * 32u;
  let col0 = w.x * 32u;
  var acc : array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < ${K}u; k0 += 32u) {
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        let r = l.y * 4u + i;
        let cc = l.x * 4u + j;
        As[r][cc] = A[(row0 + r) * ${K}u + k0 + cc];
        Bs[r][cc] = B[(k0 + r) * ${N}u + col0 + cc];
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < 32u; k++) {
      for (var i = 0u; i < 4u; i++) {
        let av = As[l.y * 4u + i][k];
        for (var j = 0u; j < 4u; j++) { acc[i][j] += av * Bs[k][l.x * 4u + j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      C[(row0 + l.y * 4u + i) * ${N}u + col0 + l.x * 4u + j] = acc[i][j];
    }
  }
}`;

/** R rows × C vec4 columns a thread, unrolled into registers. */
function registerTiled(R: number, C: number): string {
  const each = (n: number, f: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => f(i)).join("\n");
  const cols = N / 4 / C;
  return `${BINDINGS("vec4<f32>")}
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) g : vec3<u32>) {
  let col = (g.x % ${cols}u) * ${C}u;
  let row0 = (g.x / ${cols}u) * ${R}u;
  ${each(R, (r) => each(C, (j) => `var acc${r}_${j} = vec4<f32>();`))}
  for (var k = 0u; k < ${K}u; k++) {
    ${each(C, (j) => `let b${j} = B[k * ${N / 4}u + col + ${j}u];`)}
    ${
    each(R, (r) =>
      `let a${r} = A[(row0 + ${r}u) * ${K}u + k];\n` +
      each(C, (j) => `acc${r}_${j} += a${r} * b${j};`))
  }
  }
  ${each(R, (r) => each(C, (j) => `C[(row0 + ${r}u) * ${N / 4}u + col + ${j}u] = acc${r}_${j};`))}
}`;
}

async function time(name: string, code: string, groups: [number, number]): Promise<void> {
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [a, b, c].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const run = async (times: number) => {
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < times; i++) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groups[0], groups[1]);
      pass.end();
    }
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1);
  const start = performance.now();
  await run(5);
  const ms = (performance.now() - start) / 5;
  const gflops = (2 * M * N * K) / ms / 1e6;
  console.log(`${name.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms ${gflops.toFixed(2)} GFLOP/s`);
}

console.log(`adapter: ${adapter.info.description || adapter.info.device || adapter.info.vendor}`);
await time("workgroup memory, 4×4", WORKGROUP_TILED, [N / 32, M / 32]);
for (const [R, C] of [[4, 1], [8, 2], [8, 4]]) {
  await time(`registers, ${R}×${C} vec4`, registerTiled(R, C), [(M / R) * (N / 4 / C) / 64, 1]);
}
