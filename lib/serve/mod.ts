/**
 * Serving a trained run over HTTP (`deno task serve`): `POST /predict` takes a JPEG/PNG body or
 * multipart images and answers top-k JSON, with concurrent requests micro-batched into one
 * forward pass; `GET /` is a page to drop images on; `/healthz` and Prometheus `/metrics`. Bad
 * requests get a 4xx with `{ "error": "..." }` and the server keeps serving.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MicroBatcher } from "./mod.ts";
 * const batcher = new MicroBatcher({
 *   process: (xs: string[]) => Promise.resolve(xs.map((x) => x.toUpperCase())),
 * });
 * assert.equal(await batcher.submit("bee"), "BEE");
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./batcher.ts";
export * from "./metrics.ts";
export * from "./server.ts";
