/**
 * The hosts standard datasets are downloaded from: exactly what `deno task train` may reach
 * (`--allow-net`), kept in one place with the mirrors themselves.
 *
 * @module
 */
import { CIFAR_URLS } from "./cifar.ts";
import { FASHION_MNIST_SPEC, MNIST_SPEC } from "./mnist.ts";

/**
 * Every dataset mirror's host name, sorted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetHosts } from "./hosts.ts";
 * assert.ok(datasetHosts().includes("www.cs.toronto.edu"));
 * ```
 */
export function datasetHosts(): string[] {
  const urls = [...MNIST_SPEC.mirrors, ...FASHION_MNIST_SPEC.mirrors, ...CIFAR_URLS];
  return [...new Set(urls.map((url) => new URL(url).hostname))].sort();
}
