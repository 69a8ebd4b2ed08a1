// The full decoder fuzzing run (`deno task test:long`): structural mutants of 24 real photos, every
// fixture and the tolerance seeds (arithmetic-coded JPEG, junk before markers, Adobe, tRNS and odd
// PNG streams), plus 12,000 seeded random mutants. Prints the figures RELIABILITY.md records.
import assert from "node:assert/strict";
import { allMutants, corpus, fuzz } from "../decode/_fuzz_run.ts";

Deno.test("fuzzing (full): every mutant decodes or throws a DecodeError within 2 s", async () => {
  const files = await corpus(24);
  const start = performance.now();
  const report = fuzz(allMutants(files, 7, 12_000));
  console.log(JSON.stringify({
    files: files.length,
    ...report,
    failures: report.failures.length,
    seconds: Math.round((performance.now() - start) / 1000),
  }));
  assert.deepEqual(report.failures, []);
  assert.ok(report.tried >= 10_000);
});
