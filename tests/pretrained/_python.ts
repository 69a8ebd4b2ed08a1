// Internal test helper: Debian's python3 with PyTorch, for side-by-side checks. The tests that use
// it are ignored (and say why) where it is missing or the run is not allowed.
export const PYTHON = "/usr/bin/python3";

/** Whether `PYTHON` runs and imports `modules` under this test run's permissions. */
export async function pythonImports(...modules: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", `import ${modules.join(", ")}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Whether `PYTHON` runs and imports torchvision under this test run's permissions. */
export async function hasTorchvision(): Promise<boolean> {
  return await pythonImports("torch", "torchvision");
}

/** Runs a Python script; returns its stdout, or throws with its stderr. */
export async function runPython(args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, { args }).output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`${PYTHON} ${args.join(" ")} failed:\n${decoder.decode(stderr)}`);
  return decoder.decode(stdout);
}
