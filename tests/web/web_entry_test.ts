// The `./web` entry stays browser-safe: a walk of its code imports finds no module that uses the
// Deno global, no Node built-in and no npm package off the browser list; the walk does find
// them where they are (so the check can fail); and `deno task web`'s build bundles a page that
// names no Deno API.
import assert from "node:assert/strict";
import { denoOnlyUses } from "../../lib/web/_graph.ts";
import { buildWebPage, WebBuildError } from "../../lib/web/build.ts";
import { tempDir } from "../_tmp.ts";

Deno.test("./web imports nothing that needs Deno", async () => {
  const uses = await denoOnlyUses("web.ts");
  assert.deepEqual(
    uses.map((use) => `${use.reason}: ${use.chain.join(" -> ")}`),
    [],
  );
  const { exports } = JSON.parse(await Deno.readTextFile("deno.json")) as {
    exports: Record<string, string>;
  };
  assert.equal(exports["./web"], "./web.ts");
});

Deno.test("the import walk finds the Deno global, Node built-ins and Node-only packages", async () => {
  const uses = await denoOnlyUses("mod.ts");
  const reasons = new Set(uses.map((use) => use.reason));
  assert.ok(reasons.has("uses the Deno global"), [...reasons].join("; "));
  assert.ok(reasons.has("a Node built-in"), [...reasons].join("; "));
  assert.ok([...reasons].some((r) => /npm package prom-client/.test(r)), [...reasons].join("; "));
  const loader = uses.find((use) => use.module.endsWith("/lib/loader/loader.ts"));
  assert.ok(loader !== undefined);
  assert.equal(loader.chain[0].split("/").pop(), "mod.ts", "the chain starts at the entry");
  assert.equal(loader.chain.at(-1), loader.module);
});

Deno.test("deno task web's build: the page, its bundle without Deno APIs, the wasm files", async () => {
  const dir = await tempDir("web-");
  try {
    const out = `${dir}/site`;
    await Deno.writeTextFile(`${dir}/keep.txt`, "a file beside the output is left alone");
    const { files } = await buildWebPage({ outDir: out });
    const names = files.map((f) => f.name);
    for (const name of ["index.html", "app.js", "style.css", "tfjs-backend-wasm.wasm"]) {
      assert.ok(names.includes(name), names.join(", "));
    }
    const html = await Deno.readTextFile(`${out}/index.html`);
    assert.match(html, /<script type="module" src="app\.js"><\/script>/);
    assert.match(html, /id="result"/);
    const bundle = await Deno.readTextFile(`${out}/app.js`);
    assert.ok(bundle.length > 100_000, `bundle of ${bundle.length} bytes`);
    assert.doesNotMatch(bundle, /\bDeno\.(readFile|env|build|Command|permissions)\b/);
    assert.doesNotMatch(bundle, /from\s*["']node:/);
    // A second build replaces the folder whole; what was beside it stays.
    await Deno.writeTextFile(`${out}/stale.txt`, "from an older build");
    await buildWebPage({ outDir: out });
    await assert.rejects(Deno.stat(`${out}/stale.txt`), Deno.errors.NotFound);
    assert.ok((await Deno.stat(`${dir}/keep.txt`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WebBuildError is a named error", () => {
  const error = new WebBuildError("x");
  assert.equal(error.name, "WebBuildError");
});
