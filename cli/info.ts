// `deno task info`: versions, backends, the WebGPU adapter and wasm features.
import {
  type AdapterReport,
  collectDeviceInfo,
  describeAdapter,
  describeWasmThreads,
  type DeviceInfo,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs } from "./_args.ts";

const FLAGS: FlagSpecs = {
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task info [--json]",
  "Shows the Deno, V8 and tfjs versions, which backends initialise, every WebGPU adapter Deno\n" +
    "can see (name, graphics API, software or hardware, features, limits; the `--adapter` choice\n" +
    "that picks it), and whether the wasm backend has SIMD and threads.",
  FLAGS,
  ["deno task info", "deno task info --json | tail -n 1 | jq .backends"],
);

/** Limits worth a line: those that bound tfjs' buffers and workgroups. */
const KEY_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupsPerDimension",
];

function formatAdapter(report: AdapterReport): string[] {
  const pick = report.choices.length > 0
    ? `--adapter ${report.choices.join(" | ")}`
    : `seen with ${report.env} (not by this process's --adapter choices)`;
  const limits = KEY_LIMITS.filter((name) => name in report.limits)
    .map((name) => `${name} ${report.limits[name].toLocaleString("en-US")}`);
  return [
    `  - ${describeAdapter(report.adapter, report.api)}`,
    `    vendor ${report.adapter.vendor || "?"}, device ${report.adapter.device || "?"}; ${pick}`,
    `    features: ${report.features.join(", ") || "(none)"}`,
    `    limits: ${limits.join(", ")}`,
  ];
}

function formatInfo(info: DeviceInfo): string {
  const { runtime, tfjs } = info;
  const lines = [
    `Deno ${runtime.deno} (V8 ${runtime.v8}, TypeScript ${runtime.typescript}) on ${runtime.os}/${runtime.arch}, ${runtime.cpus} CPUs`,
    `tfjs core ${tfjs.core}, layers ${tfjs.layers}, backends: cpu ${tfjs.cpu}, wasm ${tfjs.wasm}, webgpu ${tfjs.webgpu}`,
    "",
    "Backends:",
  ];
  for (const backend of info.backends) {
    const status = backend.available
      ? `available (initialised in ${backend.initMs.toFixed(0)} ms)`
      : `unavailable: ${backend.error}`;
    lines.push(`  ${backend.name.padEnd(7)} ${status}`);
  }
  lines.push("", "WebGPU adapter:");
  if ("error" in info.webgpu) {
    lines.push(`  none: ${info.webgpu.error}`);
  } else {
    const { adapter, software, features, limits } = info.webgpu;
    lines.push(
      `  ${describeAdapter(adapter, info.webgpu.api)}`,
      `  vendor ${adapter.vendor || "?"}, architecture ${adapter.architecture || "?"}, device ${
        adapter.device || "?"
      }`,
      `  ${
        software
          ? "software renderer: `auto` uses wasm instead"
          : "hardware adapter: `auto` uses it"
      }`,
      `  features: ${features.join(", ") || "(none of those tfjs uses)"}`,
    );
    for (const [name, value] of Object.entries(limits)) {
      lines.push(`  ${name.padEnd(34)} ${value.toLocaleString("en-US")}`);
    }
  }
  lines.push("", `WebGPU adapters Deno can see (${info.adapters.length}):`);
  if (info.adapters.length === 0) lines.push("  none");
  for (const report of info.adapters) lines.push(...formatAdapter(report));
  lines.push(
    "",
    `wasm: SIMD ${info.wasm.simd ? "yes" : "no"}, threads ${
      info.wasm.threads ? `yes, ${describeWasmThreads()}` : "no"
    }`,
  );
  return lines.join("\n");
}

/** Runs the info command; returns the process exit code. */
export async function infoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const info = await collectDeviceInfo();
  if (values.json) {
    console.log(JSON.stringify(info));
  } else {
    console.log(formatInfo(info));
  }
  return 0;
}
