// The TensorBoard writer on protobufjs writes the same bytes as the hand-encoded writer before it
// (golden records), and readEventFile reads them back and refuses a corrupt record in one line.
import assert from "node:assert/strict";
import { join } from "node:path";
import { readEventFile, SummaryWriter } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

// Two events after the file-version record, as the hand-written encoder framed them: scalars
// loss/train 0.25, accuracy 0.875, lr 1e-3 at step 7, and big/step −3.5 at step 2^40.
const GOLDEN = "3c00000000000000c8b7a3520900002040fc54d94110072a2f0a110a0a6c6f73732f747261696e" +
  "150000803e0a0f0a086163637572616379150000603f0a090a026c72156f12833a8b218b8523000000" +
  "00000000b09f774309000000000000f43f108080808080202a110a0f0a086269672f7374657015000060" +
  "c0cdca2300";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("SummaryWriter's records are byte for byte the hand-encoded ones; readEventFile reads them", async () => {
  const dir = await tempDir("tb-");
  const writer = await SummaryWriter.open(dir);
  writer.addScalars(
    { "loss/train": 0.25, accuracy: 0.875, lr: 1e-3, skipped: NaN },
    7,
    1700000000.5,
  );
  writer.addScalar("big/step", -3.5, 2 ** 40, 1.25);
  await writer.close();
  const bytes = await Deno.readFile(writer.path);
  const firstLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(hex(bytes.subarray(12 + firstLength + 4)), GOLDEN);

  const events = await readEventFile(writer.path);
  assert.equal(events.length, 3);
  assert.equal(events[0].fileVersion, "brain.Event:2");
  assert.deepEqual(events[0].scalars, []);
  assert.deepEqual(events[1], {
    wallTime: 1700000000.5,
    step: 7,
    scalars: [
      { tag: "loss/train", value: 0.25 },
      { tag: "accuracy", value: 0.875 },
      { tag: "lr", value: Math.fround(1e-3) },
    ],
  });
  assert.deepEqual(events[2], {
    wallTime: 1.25,
    step: 2 ** 40,
    scalars: [{ tag: "big/step", value: -3.5 }],
  });

  const corrupt = bytes.slice();
  corrupt[corrupt.length - 6] ^= 0xff;
  const path = join(dir, "corrupt.tfevents");
  await Deno.writeFile(path, corrupt);
  await assert.rejects(
    () => readEventFile(path),
    (error: Error) =>
      error.message.startsWith(`${path}: bad data CRC at byte`) && !error.message.includes("\n"),
  );
  await Deno.remove(dir, { recursive: true });
});
