/**
 * TensorBoard event files, written in TypeScript: TFRecord framing (length, masked CRC32C, data,
 * masked CRC32C) around `Event` protobufs holding scalar summaries, encoded by protobufjs (the
 * library the ONNX export uses too). `tensorboard --logdir runs`
 * reads them; {@linkcode readEventFile} reads them back (and checks every CRC).
 *
 * @module
 */
import { Root, type Type } from "protobufjs";
import { join } from "../_internal/path.ts";

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, as TFRecord uses.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32C of `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32c } from "./tensorboard.ts";
 * assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant (so CRCs of CRCs stay spread). */
function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frames one record: u64 length, masked CRC of the length, data, masked CRC of the data. */
function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc(data), true);
  return out;
}

/** One scalar of an event. */
export interface ScalarValue {
  /** Scalar name, e.g. `loss/train`. */
  tag: string;
  /** Its value (stored as float32). */
  value: number;
}

/** One event read back from a file. */
export interface TensorBoardEvent {
  /** Seconds since the Unix epoch. */
  wallTime: number;
  /** Global step (our runs use the epoch). */
  step: number;
  /** Set on the file's first event ("brain.Event:2"). */
  fileVersion?: string;
  /** Scalars in this event. */
  scalars: ScalarValue[];
}

/**
 * TensorBoard's `Event` and `Summary` messages (tensorflow/core/util/event.proto and
 * framework/summary.proto), the fields scalar summaries use, as a protobufjs descriptor.
 */
const EVENT_SCHEMA = {
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ["file_version", "summary"] } },
          fields: {
            wall_time: { type: "double", id: 1 },
            step: { type: "int64", id: 2 },
            file_version: { type: "string", id: 3 },
            summary: { type: "Summary", id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: "repeated", type: "SummaryValue", id: 1 } },
        },
        SummaryValue: {
          oneofs: { value: { oneof: ["simple_value"] } },
          fields: {
            tag: { type: "string", id: 1 },
            simple_value: { type: "float", id: 2 },
          },
        },
      },
    },
  },
};

let eventType: Type | undefined;

function eventProto(): Type {
  eventType ??= Root.fromJSON(EVENT_SCHEMA).lookupType("tensorboard.Event");
  return eventType;
}

function encodeEvent(event: TensorBoardEvent): Uint8Array {
  const type = eventProto();
  const message: Record<string, unknown> = { wall_time: event.wallTime, step: event.step };
  if (event.fileVersion !== undefined) message.file_version = event.fileVersion;
  else if (event.scalars.length > 0) {
    message.summary = {
      value: event.scalars.map(({ tag, value }) => ({ tag, simple_value: value })),
    };
  }
  return type.encode(type.fromObject(message)).finish();
}

let writerCount = 0;

/** Options for {@linkcode SummaryWriter.open}. */
export interface SummaryWriterOptions {
  /** Appended to the file name, like PyTorch's `filename_suffix`. Default: none. */
  filenameSuffix?: string;
}

/**
 * Writes scalars to a TensorBoard event file in `logDir`, like PyTorch's
 * `torch.utils.tensorboard.SummaryWriter`. Each `flush()` appends whole records, so a reader (or
 * a crash) never sees half an event in the middle of the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEventFile, SummaryWriter } from "./tensorboard.ts";
 * const dir = await Deno.makeTempDir({ dir: "data" }).catch(() => Deno.makeTempDir());
 * const writer = await SummaryWriter.open(dir);
 * writer.addScalar("loss/train", 0.5, 1);
 * await writer.close();
 * const events = await readEventFile(writer.path);
 * assert.deepEqual(events[1].scalars, [{ tag: "loss/train", value: 0.5 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SummaryWriter {
  /** The event file's path. */
  readonly path: string;
  #pending: Uint8Array[] = [];
  #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Creates `logDir` if needed and a new event file in it, named as TensorBoard expects. */
  static async open(logDir: string, options: SummaryWriterOptions = {}): Promise<SummaryWriter> {
    await Deno.mkdir(logDir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    // Like PyTorch: time, host, pid, then a per-process counter so two writers never collide.
    const name = `events.out.tfevents.${seconds}.denovision.${Deno.pid}.${writerCount++}${
      options.filenameSuffix ?? ""
    }`;
    const path = join(logDir, name);
    const file = await Deno.open(path, { write: true, createNew: true });
    const writer = new SummaryWriter(path, file);
    writer.#pending.push(
      frameRecord(
        encodeEvent({
          wallTime: Date.now() / 1000,
          step: 0,
          fileVersion: "brain.Event:2",
          scalars: [],
        }),
      ),
    );
    await writer.flush();
    return writer;
  }

  /** Queues one scalar at `step` (written on the next `flush()` or `close()`). */
  addScalar(tag: string, value: number, step: number, wallTime: number = Date.now() / 1000): void {
    this.addScalars({ [tag]: value }, step, wallTime);
  }

  /** Queues several scalars at `step` in one event; non-finite values are skipped. */
  addScalars(
    values: Record<string, number | undefined>,
    step: number,
    wallTime: number = Date.now() / 1000,
  ): void {
    const scalars: ScalarValue[] = [];
    for (const [tag, value] of Object.entries(values)) {
      if (value !== undefined && Number.isFinite(value)) scalars.push({ tag, value });
    }
    if (scalars.length > 0) {
      this.#pending.push(frameRecord(encodeEvent({ wallTime, step, scalars })));
    }
  }

  /** Appends the queued events to the file and syncs it. */
  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const total = this.#pending.reduce((n, record) => n + record.length, 0);
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const record of this.#pending) {
      bytes.set(record, offset);
      offset += record.length;
    }
    this.#pending = [];
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
    await this.#file.sync();
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    this.#file.close();
  }
}

interface EventMessage {
  wall_time?: number;
  step?: number;
  file_version?: string;
  summary?: { value?: { tag?: string; simple_value?: number }[] };
}

function decodeEvent(bytes: Uint8Array): TensorBoardEvent {
  const type = eventProto();
  const message = type.toObject(type.decode(bytes), { longs: Number }) as EventMessage;
  const event: TensorBoardEvent = {
    wallTime: message.wall_time ?? 0,
    step: message.step ?? 0,
    scalars: (message.summary?.value ?? []).map((value) => ({
      tag: value.tag ?? "",
      value: value.simple_value ?? NaN,
    })),
  };
  if (message.file_version !== undefined) event.fileVersion = message.file_version;
  return event;
}

/**
 * Reads every event of a TensorBoard event file, checking both CRCs of each record; a bad CRC or
 * a truncated record is an error naming the file and the byte offset.
 *
 * @example
 * ```ts ignore
 * import { readEventFile } from "./tensorboard.ts";
 * for (const event of await readEventFile("runs/shapes/events.out.tfevents.1.denovision.1")) {
 *   console.log(event.step, event.scalars);
 * }
 * ```
 */
export async function readEventFile(path: string): Promise<TensorBoardEvent[]> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: TensorBoardEvent[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) throw new Error(`${path}: truncated record at byte ${offset}`);
    const length = Number(view.getBigUint64(offset, true));
    if (view.getUint32(offset + 8, true) !== maskedCrc(bytes.subarray(offset, offset + 8))) {
      throw new Error(`${path}: bad length CRC at byte ${offset}`);
    }
    const end = offset + 12 + length;
    if (end + 4 > bytes.length) throw new Error(`${path}: truncated record at byte ${offset}`);
    const data = bytes.subarray(offset + 12, end);
    if (view.getUint32(end, true) !== maskedCrc(data)) {
      throw new Error(`${path}: bad data CRC at byte ${offset}`);
    }
    events.push(decodeEvent(data));
    offset = end + 4;
  }
  return events;
}
