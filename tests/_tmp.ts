// Internal test helper: scratch folders under data/.test/ (the only place tests may write).
export async function tempDir(prefix: string): Promise<string> {
  await Deno.mkdir("data/.test", { recursive: true });
  return await Deno.makeTempDir({ dir: "data/.test", prefix });
}
