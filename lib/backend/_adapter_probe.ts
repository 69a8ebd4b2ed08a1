// Internal: what every `requestAdapter` call of this process returns, as plain data. Imported by
// info.ts, and run on its own (`deno run`, no imports, no permissions but the environment) in a
// child process with DENO_WEBGPU_BACKEND set, to see the adapters of each graphics API: one
// process only ever sees the adapters of the API wgpu picked first.

/** One adapter as a `requestAdapter` call returned it. */
export interface RawAdapter {
  /** The `--adapter` choice whose request returned it. */
  choice: "high-performance" | "low-power" | "software";
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Every optional feature, sorted. */
  features: string[];
  /** Every limit the adapter reports. */
  limits: Record<string, number>;
}

const REQUESTS = [
  ["high-performance", { powerPreference: "high-performance" }],
  ["low-power", { powerPreference: "low-power" }],
  ["software", { forceFallbackAdapter: true }],
] as const;

/** Requests an adapter with each `--adapter` choice and copies what comes back. */
export async function probeAdapters(gpu: GPU | undefined = navigator.gpu): Promise<RawAdapter[]> {
  const out: RawAdapter[] = [];
  if (gpu === undefined) return out;
  for (const [choice, options] of REQUESTS) {
    const adapter = await gpu.requestAdapter(options).catch(() => null);
    if (adapter === null) continue;
    const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
    const limits: Record<string, number> = {};
    for (
      let p = adapter.limits;
      p !== null && p !== Object.prototype;
      p = Object.getPrototypeOf(p)
    ) {
      for (const name of Object.getOwnPropertyNames(p)) {
        const value = (adapter.limits as unknown as Record<string, unknown>)[name];
        if (typeof value === "number") limits[name] = value;
      }
    }
    out.push({
      choice,
      vendor: String(info.vendor ?? ""),
      architecture: String(info.architecture ?? ""),
      device: String(info.device ?? ""),
      description: String(info.description ?? ""),
      isFallbackAdapter: Boolean(
        info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
      ),
      features: [...adapter.features].sort(),
      limits,
    });
  }
  return out;
}

if (import.meta.main) console.log(JSON.stringify(await probeAdapters()));
