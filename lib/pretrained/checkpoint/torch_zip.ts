/**
 * `readTorchZip`: the state dict in a `torch.save` file (the zip format, torch >= 1.6).
 *
 * @module
 */
import { type Unzipped, unzipSync } from "fflate";
import { asCheckpointError, fail } from "./_common.ts";
import { describeMagic } from "../../decode/sniff.ts";
import { findStateDict } from "./_state_dict.ts";
import { CheckpointError } from "./errors.ts";
import { unpickleTorch } from "./_torch_pickle.ts";
import type { ReadCheckpointOptions, StateDict } from "./types.ts";

/** Entries a torch.save archive reader needs: `<prefix>/data.pkl`, storages, byte order. */
const NEEDED = /^[^/]+\/(data\.pkl|byteorder|data\/[^/]+)$/;
/** Entries only a TorchScript archive (torch.jit.save) has. */
const TORCHSCRIPT = /^[^/]+\/(constants\.pkl|code\/)/;

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06));
}

function unzip(bytes: Uint8Array, names: string[]): Unzipped {
  try {
    return unzipSync(bytes, {
      filter: (file) => {
        names.push(file.name);
        if (!NEEDED.test(file.name)) return false;
        // torch stores entries uncompressed; deflate cannot expand more than 1032:1.
        if (file.compression !== 0 && file.originalSize > 1032 * file.size + 1024) {
          fail(
            `zip entry ${file.name} claims to inflate ${file.size} bytes to ` +
              `${file.originalSize} (a zip bomb?)`,
          );
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    const code = (error as { code?: number }).code;
    if (code === 13) {
      fail(`truncated: no zip central directory in its ${bytes.length} bytes`);
    }
    fail(`corrupt zip archive (${error instanceof Error ? error.message : String(error)})`);
  }
}

function loadTorchZip(bytes: Uint8Array): unknown {
  if (!isZip(bytes)) {
    fail(`not a zip archive (starts with ${describeMagic(bytes)}); expected a torch.save file`);
  }
  const names: string[] = [];
  const files = unzip(bytes, names);
  if (names.some((name) => TORCHSCRIPT.test(name))) {
    fail(
      "is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; " +
        "save the weights with torch.save(model.state_dict(), f)",
    );
  }
  const pickles = Object.keys(files).filter((name) => name.endsWith("/data.pkl"));
  if (pickles.length !== 1) {
    const listed = names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "");
    fail(
      pickles.length === 0
        ? `no <archive>/data.pkl in the zip (entries: ${listed || "none"}); not a torch.save file`
        : `${pickles.length} data.pkl entries in the zip (${pickles.join(", ")}); expected one`,
    );
  }
  const prefix = pickles[0].slice(0, -"data.pkl".length);
  const order = files[`${prefix}byteorder`];
  if (order !== undefined) {
    const text = new TextDecoder().decode(order).trim();
    if (text !== "little") {
      fail(`stores ${text}-endian tensors; only little-endian is read (re-save on x86 or ARM)`);
    }
  }
  const storageTotal = Object.entries(files)
    .filter(([name]) => name.startsWith(`${prefix}data/`))
    .reduce((total, [, entry]) => total + entry.length, 0);
  const storageBytes = (key: string) => {
    const name = `${prefix}data/${key}`;
    return Object.hasOwn(files, name) ? files[name] : undefined;
  };
  return unpickleTorch(files[pickles[0]], storageBytes, storageTotal);
}

/**
 * The model's state dict in the bytes of a `torch.save` zip file (torch >= 1.6's default).
 *
 * The pickle is read by an allow-listed unpickler that builds only tensors, parameters,
 * `OrderedDict`s and plain values: any other global (`os.system`, `builtins.eval`, a model
 * class) is refused with a {@linkcode CheckpointError} naming it, and nothing is executed.
 * Tensors become contiguous float32 whatever their stored dtype, strides and offset. For a
 * whole training checkpoint (a dict of more than tensors), the state dict is the first dict of
 * tensors under `state_dict`, `model_state_dict`, `model`, `net` or `module`, else the only
 * dict of tensors among its values; a `module.` prefix on every key (DataParallel) is dropped.
 *
 * @throws {CheckpointError} for anything but a readable torch.save zip holding a state dict.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, readTorchZip } from "./mod.ts";
 * const notZip = new TextEncoder().encode("hello");
 * assert.throws(
 *   () => readTorchZip(notZip, { source: "model.pth" }),
 *   (error: Error) => error instanceof CheckpointError &&
 *     error.message.startsWith("model.pth: not a zip archive"),
 * );
 * ```
 */
export function readTorchZip(bytes: Uint8Array, options: ReadCheckpointOptions = {}): StateDict {
  try {
    return findStateDict(loadTorchZip(bytes));
  } catch (error) {
    throw asCheckpointError(error, options.source);
  }
}
