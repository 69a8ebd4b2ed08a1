import assert from "node:assert/strict";
import { UsageError } from "../../cli/_args.ts";
import { toConfigOverrides } from "../../cli/_config.ts";
import { parseArgs } from "../../cli/_args.ts";
import { evalCommand } from "../../cli/eval.ts";
import { predictCommand } from "../../cli/predict.ts";
import { TRAIN_FLAGS } from "../../cli/train.ts";

const PHOTO = new URL("../../../shared/datasets/hymenoptera/val/ants/", import.meta.url).pathname;

Deno.test("eval and predict refuse an unknown --tta in one usage line, before any work", async () => {
  await assert.rejects(
    () => evalCommand(["--run", "runs/none-such", "--tta", "ten-crop"]),
    UsageError,
    "--tta must be one of none, hflip, five-crop; got 'ten-crop'",
  );
  await assert.rejects(
    () => predictCommand(["--run", "runs/none-such", "--tta", "vflip", PHOTO]),
    UsageError,
    "--tta must be one of none, hflip, five-crop; got 'vflip'",
  );
});

Deno.test("train --balance reaches the config as `balance`", () => {
  const parsed = parseArgs(["--balance", "oversample"], TRAIN_FLAGS);
  assert.deepEqual(toConfigOverrides(parsed, TRAIN_FLAGS), { balance: "oversample" });
});
