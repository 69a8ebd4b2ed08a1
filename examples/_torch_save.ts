// Helper for finetune_pth.ts: writes a float32 state dict in `torch.save`'s file format, a zip
// of `archive/data.pkl` (the pickled OrderedDict), one `archive/data/<n>` storage per tensor,
// `archive/byteorder` and `archive/version`, stored uncompressed. `torch.load` reads it back.
// The toolkit reads .pth files but writes .safetensors (`saveSafetensors`); this stands in for a
// file PyTorch made, so that the example runs without a download.
import type { StateDict } from "../mod.ts";

/** Little-endian bytes, appended. */
class Bytes {
  readonly #parts: number[] = [];
  get length(): number {
    return this.#parts.length;
  }
  u8(...values: number[]): this {
    this.#parts.push(...values);
    return this;
  }
  u16(n: number): this {
    return this.u8(n & 0xff, n >>> 8);
  }
  u32(n: number): this {
    return this.u16(n & 0xffff).u16(n >>> 16);
  }
  text(s: string): this {
    return this.u8(...new TextEncoder().encode(s));
  }
  done(): Uint8Array {
    return new Uint8Array(this.#parts);
  }
}

/** Pickle (protocol 2) of `OrderedDict(name → _rebuild_tensor_v2(storage n, 0, size, stride))`. */
function pickle(stateDict: StateDict): Uint8Array {
  const out = new Bytes().u8(0x80, 2); // PROTO 2
  const str = (s: string) => out.u8(0x58).u32(new TextEncoder().encode(s).length).text(s);
  const int = (n: number) => out.u8(0x4a).u32(n); // BININT
  const ints = (ns: number[]) => {
    out.u8(0x28); // MARK
    ns.forEach(int);
    out.u8(0x74); // TUPLE
  };
  const orderedDict = () => out.text("ccollections\nOrderedDict\n)R"); // GLOBAL, (), REDUCE
  orderedDict();
  out.u8(0x28); // MARK: the items
  let key = 0;
  for (const [name, { shape }] of stateDict) {
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    str(name);
    out.text("ctorch._utils\n_rebuild_tensor_v2\n(");
    out.u8(0x28); // MARK: the storage's persistent id ('storage', FloatStorage, key, 'cpu', numel)
    str("storage");
    out.text("ctorch\nFloatStorage\n");
    str(String(key++));
    str("cpu");
    int(shape.reduce((a, b) => a * b, 1));
    out.u8(0x74, 0x51); // TUPLE, BINPERSID
    int(0); // storage offset, then size and stride
    ints(shape);
    ints(strides);
    out.u8(0x89); // requires_grad: False
    orderedDict(); // backward hooks
    out.u8(0x74, 0x52); // TUPLE, REDUCE
  }
  return out.u8(0x75, 0x2e).done(); // SETITEMS, STOP
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
  return n >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of stored (uncompressed) entries. */
function zip(entries: [string, Uint8Array][]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central = new Bytes();
  let offset = 0;
  for (const [name, data] of entries) {
    const crc = crc32(data);
    const nameLength = new TextEncoder().encode(name).length;
    // version 2.0, no flags, stored, no date, crc, compressed and real size, name length
    const fields = (b: Bytes) =>
      b.u16(20).u16(0).u16(0).u32(0).u32(crc).u32(data.length).u32(data.length).u16(nameLength);
    const local = fields(new Bytes().u32(0x04034b50)).u16(0).text(name).done();
    fields(central.u32(0x02014b50).u16(20)).u16(0).u16(0).u16(0).u16(0).u32(0).u32(offset)
      .text(name);
    chunks.push(local, data);
    offset += local.length + data.length;
  }
  const end = new Bytes().u32(0x06054b50).u16(0).u16(0).u16(entries.length).u16(entries.length)
    .u32(central.length).u32(offset).u16(0);
  chunks.push(central.done(), end.done());
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

/** The bytes `torch.save(state_dict, f)` writes for these float32 tensors (little-endian host). */
export function torchSave(stateDict: StateDict): Uint8Array {
  const storages = [...stateDict.values()].map(({ data }, key): [string, Uint8Array] => [
    `archive/data/${key}`,
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  ]);
  return zip([
    ["archive/data.pkl", pickle(stateDict)],
    ["archive/byteorder", new TextEncoder().encode("little")],
    ...storages,
    ["archive/version", new TextEncoder().encode("3\n")],
  ]);
}
