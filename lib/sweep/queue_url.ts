/**
 * `--queue redis://host:port[/db]` values, parsed without loading the queue client.
 *
 * @module
 */

/** The queue trials go through unless another name is given. */
export const DEFAULT_QUEUE_NAME = "denovision-trials";

/** A `--queue` value that is not `redis://host:port`. */
export class QueueUrlError extends Error {
  /** Always `QueueUrlError`. */
  override name = "QueueUrlError";
}

/** Where redis-server listens. */
export interface RedisAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port (6379 when the URL leaves it out). */
  port: number;
  /** Database number (`redis://host:port/2`). Default: 0. */
  db: number;
}

/**
 * Parses `redis://host:port[/db]` (port 6379 when left out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseQueueUrl } from "./queue_url.ts";
 * assert.deepEqual(parseQueueUrl("redis://10.0.0.5:6380/1"), { host: "10.0.0.5", port: 6380, db: 1 });
 * assert.throws(() => parseQueueUrl("http://x"), /expected redis:\/\/host:port/);
 * ```
 */
export function parseQueueUrl(url: string): RedisAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueUrlError(`expected redis://host:port, found '${url}'`);
  }
  if (parsed.protocol !== "redis:" || parsed.hostname === "") {
    throw new QueueUrlError(`expected redis://host:port, found '${url}'`);
  }
  const db = parsed.pathname.replace(/^\//, "");
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    db: db === "" ? 0 : Number(db),
  };
}
