import assert from "node:assert/strict";
import { allMutants, corpus, fuzz } from "./_fuzz_run.ts";

// A CI-sized slice; `deno task test:long` runs tests/long/decoder_fuzz.ts with 12,000 mutants.
Deno.test("fuzzing (slice): every mutant decodes or throws a DecodeError, quickly", async () => {
  const files = await corpus(2, "few");
  const report = fuzz(allMutants(files, 1, 300));
  assert.deepEqual(report.failures, []);
  assert.ok(report.tried > 1000, `${report.tried} mutants`);
  assert.ok(Object.keys(report.rejected).length >= 2, JSON.stringify(report.rejected));
});
