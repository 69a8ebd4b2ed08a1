// Internal: runs `driveServer` in a worker thread, so the load generator does not share the
// server's event loop when both live in one process.
import { driveServer, type LoadOptions } from "./_serve_load.ts";

declare const self: {
  onmessage: ((e: MessageEvent<LoadOptions>) => void) | null;
  postMessage(m: unknown): void;
  close(): void;
};

self.onmessage = async (event) => {
  self.postMessage(await driveServer(event.data));
  self.close();
};
