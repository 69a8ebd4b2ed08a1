// Shared by the tests of the threaded SIMD kernels: the same calls on 2 and 3 threads (a pool of
// helpers), then on 1, every call cut for every thread however small its input.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmThreads, useBackend, wasmThreads } from "../../mod.ts";
import {
  helperThreadCalls,
  helperThreadServes,
  setMinPartWork,
  threadsFor,
} from "../../lib/backend/_wasm_simd/_helper_thread.ts";
import type { SimdModuleSource } from "../../lib/backend/_wasm_simd/_module.ts";
import { assertSameBytes } from "./_assert.ts";

/**
 * Runs `all` on 2 and on 3 threads, once the helpers have started and loaded `source`, with
 * `checkCalls` given the parts the helpers took each time; then on 1 thread. Returns the results
 * by thread count and on 1, and puts the thread count and the least work per part back.
 */
export async function resultsOnThreads<T>(
  source: SimdModuleSource,
  all: () => T | Promise<T>,
  checkCalls: (threads: number, calls: number) => void,
): Promise<{ byThreads: Map<number, T>; one: T }> {
  const threadsBefore = wasmThreads();
  // Small inputs: every call cut for every thread all the same.
  const minPartWork = setMinPartWork(0);
  try {
    const byThreads = new Map<number, T>();
    for (const threads of [2, 3]) {
      assert.equal(await setWasmThreads(threads), threads);
      await useBackend("wasm");
      assert.equal(threadsFor(tf.backend()), threads);
      // The helpers start on the first call and load the module in the background: slowly when
      // other test files load the same cores (`--parallel`).
      await callUntil(all, () => helperThreadServes(tf.backend(), source));
      await useBackend("wasm"); // `all` may have run on another backend too
      assert.ok(
        helperThreadServes(tf.backend(), source),
        `${threads} threads: the helpers started`,
      );
      const callsBefore = helperThreadCalls();
      byThreads.set(threads, await all());
      checkCalls(threads, helperThreadCalls() - callsBefore);
    }
    assert.equal(await setWasmThreads(1), 1);
    await useBackend("wasm");
    assert.equal(threadsFor(tf.backend()), 1);
    return { byThreads, one: await all() };
  } finally {
    setMinPartWork(minPartWork);
    await setWasmThreads(threadsBefore);
  }
}

/** How long {@linkcode callUntil} waits: a helper worker starts in milliseconds when idle. */
const HELPERS_START_MS = 60_000;

/**
 * Calls `step` (then lets the event loop run 10 ms) until `done()` holds, for at most a minute;
 * for the helpers to start and load a module, which takes longer while other tests load the cores.
 *
 * @example
 * ```ts ignore
 * await callUntil(() => run(), () => helperThreadCalls() > calls);
 * ```
 */
export async function callUntil(
  step: () => unknown,
  done: () => boolean,
): Promise<void> {
  const until = performance.now() + HELPERS_START_MS;
  while (!done() && performance.now() < until) {
    await step();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * {@linkcode resultsOnThreads} of `all` (one Float32Array per case, `labels` naming them), then
 * every case on 2 and 3 threads the same bytes as on 1, with at least one helper call per helper.
 *
 * @example
 * ```ts ignore
 * await assertSameOnThreads(SOURCE, async () => [run()], ["a case"]);
 * ```
 */
export async function assertSameOnThreads(
  source: SimdModuleSource,
  all: () => Promise<Float32Array[]>,
  labels: readonly string[],
): Promise<void> {
  const { byThreads, one } = await resultsOnThreads(
    source,
    all,
    (threads, calls) => assert.ok(calls >= threads - 1, `${threads} threads: ${calls} calls`),
  );
  for (const [threads, results] of byThreads) {
    results.forEach((y, i) => assertSameBytes(y, one[i], `${labels[i]}: ${threads} threads`));
  }
}
