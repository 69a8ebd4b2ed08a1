// `deno task web`: builds the browser page into runs/web/ and, with --serve, serves it.
import { buildWebPage, serveWebPage } from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";

const FLAGS: FlagSpecs = {
  out: { type: "string", description: "the folder written (replaced whole). Default: runs/web" },
  serve: { type: "boolean", description: "then serve it on http://127.0.0.1:<port>/" },
  port: { type: "string", description: "the port of --serve (0: any free one). Default: 8080" },
  "no-minify": { type: "boolean", description: "keep the bundle readable" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task web [--serve] [--port N] [--out DIR]",
  "Builds the page that trains in a browser tab: drop a folder of class folders, pick a model\n" +
    "(optionally with PyTorch weights), train on WebGPU (else wasm), see the confusion matrix\n" +
    "and mistakes, download model.onnx and the TF.js model, classify a dropped photo. Nothing\n" +
    "leaves the machine. The folder (index.html, app.js, style.css, the wasm files) can be put\n" +
    "on any static host. `?dataset=shapes&epochs=N&seed=S` trains the built-in set at once.",
  FLAGS,
  ["deno task web", "deno task web --serve --port 8080"],
);

/** Runs `deno task web`; returns the exit code. */
export async function webCommand(args: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs(args, FLAGS);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; see deno task web --help`);
  }
  const port = flags.port === undefined ? 8080 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port: expected a port number from 0 to 65535, got '${flags.port}'`);
  }
  const started = performance.now();
  const { dir, files } = await buildWebPage({
    outDir: flags.out as string | undefined,
    minify: !flags["no-minify"],
  });
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  console.log(
    `built ${dir}/ in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
      files.map((f) => `${f.name} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(", ") +
      `; ${(total / 1024 / 1024).toFixed(1)} MiB in all`,
  );
  if (!flags.serve) {
    console.log(`serve it from any static host, or: deno task web --serve`);
    return 0;
  }
  const server = serveWebPage(dir, {
    port,
    onListen: (url) => console.log(`serving ${dir}/ at ${url} (Ctrl-C to stop)`),
  });
  await server.finished;
  return 0;
}
