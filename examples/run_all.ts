// Runs every example in order, each in its own `deno run` with the narrowest permissions it
// needs, and stops with exit code 1 at the first that fails. train_folder.ts comes first:
// export_onnx.ts and gradcam.ts use the model it saves.
//
// Run:    deno task examples
//         (deno run --allow-run=deno examples/run_all.ts)
// Prints: each example's output under a heading, its time, and a summary line.

import { type FlagSpecs, formatHelp, parseArgs, runScript, UsageError } from "../cli/_args.ts";

/** One example: its file under examples/ and the `deno run` permissions it needs. */
export interface Example {
  /** File name under examples/. */
  file: string;
  /** Permission flags for `deno run`. */
  permissions: string[];
}

const PHOTOS = ["--allow-read=.,../shared", "--allow-write=data/examples"];

/** The examples, in the order they run. */
export const EXAMPLES: readonly Example[] = [
  { file: "train_folder.ts", permissions: PHOTOS },
  { file: "finetune_pth.ts", permissions: PHOTOS },
  { file: "custom_model.ts", permissions: ["--allow-read=."] },
  { file: "custom_transform.ts", permissions: PHOTOS },
  { file: "export_onnx.ts", permissions: PHOTOS },
  { file: "gradcam.ts", permissions: PHOTOS },
  { file: "sweep.ts", permissions: ["--allow-read=.", "--allow-write=data/examples"] },
];

/** The arguments of `deno` that run `example` from the repository root. */
export function denoArgs(example: Example): string[] {
  return ["run", ...example.permissions, `examples/${example.file}`];
}

const FLAGS: FlagSpecs = {
  only: { type: "string", description: "run just this example (its file name, e.g. gradcam.ts)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task examples [--only FILE]",
  "Runs every program in examples/ in order, each in its own `deno run` with the narrowest\n" +
    "permissions it needs; stops with exit code 1 at the first that fails.",
  FLAGS,
  ["deno task examples", "deno task examples --only custom_transform.ts"],
);

/** Runs the examples `args` select; exits with code 1 at the first that fails. */
async function runExamples(args: string[]): Promise<void> {
  const { values } = parseArgs(args, FLAGS);
  const only = values.only as string | undefined;
  const chosen = EXAMPLES.filter((example) => only === undefined || example.file === only);
  if (chosen.length === 0) {
    throw new UsageError(
      `--only: no example '${only}'; examples: ${EXAMPLES.map((e) => e.file).join(", ")}`,
    );
  }
  const started = performance.now();
  for (const example of chosen) {
    console.log(`\n=== deno ${denoArgs(example).join(" ")}`);
    const start = performance.now();
    const { code } = await new Deno.Command("deno", {
      args: denoArgs(example),
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    if (code !== 0) {
      console.error(`examples/${example.file} failed (exit code ${code}) after ${seconds} s`);
      Deno.exit(1);
    }
    console.log(`--- examples/${example.file}: ${seconds} s`);
  }
  const total = ((performance.now() - started) / 1000).toFixed(0);
  const what = chosen.length === 1 ? "the example" : `all ${chosen.length} examples`;
  console.log(`\n${what} ran in ${total} s`);
}

if (import.meta.main) Deno.exit(await runScript(Deno.args, HELP, runExamples));
