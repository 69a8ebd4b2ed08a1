// Internal: small file-system helpers shared by several stages.

/** Whether `path` exists; other errors (a refused permission) still throw. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
