/**
 * Internal: the worker that hosts one of emscripten's pthreads for tfjs-backend-wasm's threaded
 * build. It runs under `node:worker_threads` (whose `unref` lets the process exit while the
 * thread sleeps in `Atomics.wait`), but emscripten wrote its pthread entry as a classic web
 * worker script: it sets `self.onmessage`, calls `postMessage` and `importScripts`. This module
 * provides those over `parentPort`, receives the entry script and the glue as text from
 * {@linkcode ./_pthreads.ts}, and evaluates both with `process` and `require` hidden, so the
 * glue takes its web-worker path instead of the Node one.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";

/** Message from the main thread carrying a script for this worker. */
interface ScriptMessage {
  denovisionPthreadScript: string;
  kind: "entry" | "glue";
}

const port = parentPort!;
const scope = globalThis as unknown as Record<string, unknown> & {
  onmessage?: (e: { data: unknown }) => void;
};

/** Evaluates `source` in the global scope with `process` and `require` shadowed. */
function evaluate(source: string, name: string): void {
  const wrapped = `(function (process, require, module, exports) {\n${source}\n})` +
    `(undefined, undefined, undefined, undefined);\n//# sourceURL=${name}`;
  (0, eval)(wrapped);
}

let glue: string | undefined;

scope.self = globalThis;
scope.location ??= { href: import.meta.url };
scope.postMessage = (message: unknown, transfer?: readonly Transferable[]) =>
  port.postMessage(message, transfer as never);
scope.importScripts = (url: string): void => {
  if (glue === undefined) throw new Error(`pthread worker: no glue received for ${url}`);
  // The glue is `var WasmBackendModuleThreadedSimd = function (...) {...}`; keep the binding
  // global while its body runs with `process` hidden.
  const body = glue.replace(/^\s*var\s+WasmBackendModuleThreadedSimd\s*=\s*/, "");
  evaluate(`globalThis.WasmBackendModuleThreadedSimd = (${body});`, "tfjs-wasm-threaded-glue.js");
};

port.on("message", (data: unknown) => {
  const script = data as Partial<ScriptMessage> | undefined;
  if (script && typeof script.denovisionPthreadScript === "string") {
    if (script.kind === "glue") glue = script.denovisionPthreadScript;
    else evaluate(script.denovisionPthreadScript, "tfjs-wasm-threaded-worker.js");
    return;
  }
  // The entry script has set `self.onmessage` by now: the main thread posts it first.
  scope.onmessage?.({ data });
});
