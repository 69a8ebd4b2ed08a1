// Runs every example in order, each in its own `deno run` with the narrowest permissions it
// needs, and stops with exit code 1 at the first that fails. train_folder.ts comes first:
// export_onnx.ts and gradcam.ts use the model it saves.
//
// Run:    deno task examples
//         (deno run --allow-run=deno examples/run_all.ts)
// Prints: each example's output under a heading, its time, and a summary line.

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

if (import.meta.main) {
  const started = performance.now();
  for (const example of EXAMPLES) {
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
  console.log(`\nall ${EXAMPLES.length} examples ran in ${total} s`);
}
