// The `deno task <command>` entry point: a thin dispatcher over the commands in this folder.
import { infoCommand } from "./info.ts";
import { trainCommand } from "./train.ts";
import { evalCommand } from "./eval.ts";
import { predictCommand } from "./predict.ts";
import { benchCommand } from "./bench.ts";
import { serveCommand } from "./serve.ts";
import { exportCommand } from "./export.ts";
import { explainCommand } from "./explain.ts";
import { sweepCommand } from "./sweep.ts";
import { workerCommand } from "./worker.ts";
import { webCommand } from "./web.ts";
import { UsageError } from "./_args.ts";
import { describeDenial } from "./_permissions.ts";

// Mesa's GL/Vulkan loaders probe Wayland when looking for a WebGPU adapter and print
// "error: XDG_RUNTIME_DIR is invalid or not set" four times on machines without a desktop
// session. Compute needs no display: point it at the temp folder when it is unset (before any
// adapter is requested; importing the commands requests none).
if (
  Deno.build.os === "linux" &&
  Deno.permissions.querySync({ name: "env", variable: "XDG_RUNTIME_DIR" }).state === "granted" &&
  !Deno.env.get("XDG_RUNTIME_DIR")
) {
  Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
}

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; summary: string }> = {
  train: { run: trainCommand, summary: "train a classifier; writes runs/<name>/" },
  eval: { run: evalCommand, summary: "metrics, confusion matrix and report of a trained run" },
  predict: { run: predictCommand, summary: "top-k labels for images, with a run's preprocessing" },
  bench: {
    run: benchCommand,
    summary: "decode, pipeline, train, infer and mnist-protocol figures",
  },
  sweep: { run: sweepCommand, summary: "hyperparameter search; trials are runs/<sweep>/<trial>/" },
  worker: { run: workerCommand, summary: "trains sweep trials from a BullMQ queue (--queue)" },
  export: { run: exportCommand, summary: "a run's model as ONNX (model.onnx) or TF.js" },
  explain: { run: explainCommand, summary: "Grad-CAM, feature maps and kernels of a run, as PNGs" },
  serve: { run: serveCommand, summary: "HTTP server: POST /predict, a page, /healthz, /metrics" },
  web: { run: webCommand, summary: "builds the page that trains in a browser tab; --serve" },
  info: { run: infoCommand, summary: "versions, backends, WebGPU adapter and wasm features" },
};

function usage(): string {
  const lines = ["Usage: deno task <command> [options]", "", "Commands:"];
  for (const [name, { summary }] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(10)} ${summary}`);
  }
  lines.push("", "Run `deno task <command> --help` for a command's options.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`error: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof Deno.errors.NotCapable) {
      console.error(`error: ${describeDenial(error.message, name, rest)}`);
      return 1;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

Deno.exit(await main(Deno.args));
