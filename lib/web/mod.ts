/**
 * The toolkit in a web page, seen from Deno: `buildWebPage` / `serveWebPage` behind
 * `deno task web`, and the Deno-free pieces the page is made of that serve Deno programs too
 * (`trainInMemory`, `datasetsFromFiles`, `predictImage`). The browser entry itself is `./web`
 * (web.ts at the package root).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "../datasets/mod.ts";
 * import { MemoryLoader } from "../loader/mod.ts";
 * import { trainInMemory } from "./mod.ts";
 * assert.equal(typeof trainInMemory, "function");
 * assert.equal(new MemoryLoader(shapes({ size: 8 }), { batchSize: 4 }).length, 2);
 * ```
 *
 * @module
 */
export * from "./build.ts";
export * from "./folder.ts";
export * from "./predict.ts";
export * from "./train.ts";
