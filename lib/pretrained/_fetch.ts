// Internal: a checkpoint's bytes from a URL, for Deno's loadTorchvision (torchvision.ts) and the
// page's (lib/web/torchvision.ts); each says in its own words why a fetch failed.
import { CheckpointError } from "./checkpoint/mod.ts";

/**
 * Fetches `url`; returns its bytes and the file's name for messages. A failed fetch or an HTTP
 * error is a CheckpointError naming the URL; `why` words a fetch that threw.
 */
export async function fetchCheckpoint(
  url: URL,
  fetcher: typeof fetch,
  why: (error: unknown) => string,
): Promise<[Uint8Array, string]> {
  let response: Response;
  try {
    response = await fetcher(url.href);
  } catch (error) {
    throw new CheckpointError(`${url.href}: ${why(error)}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new CheckpointError(`${url.href}: HTTP ${response.status} ${response.statusText}`);
  }
  const name = url.pathname.split("/").pop() || url.href;
  return [new Uint8Array(await response.arrayBuffer()), name];
}
