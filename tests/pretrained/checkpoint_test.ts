// The checkpoint readers against tensors written by torch 1.13
// (tests/pretrained/fixtures/make_fixtures.py, whose outputs are committed: no Python needed),
// plus refusals of malicious pickles, and truncated or corrupt files.
import assert from "node:assert/strict";
import { join } from "node:path";
import { unzipSync, type Zippable, zipSync } from "fflate";
import {
  CheckpointError,
  readSafetensors,
  readStateDict,
  readTorchZip,
  type StateDict,
} from "../../lib/pretrained/checkpoint/mod.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const MARKER = "/tmp/denovision_checkpoint_pwned";

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | "nan" | "inf" | "-inf")[];
}
const EXPECTED: Record<string, Record<string, Expected>> = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, "expected.json")),
);

function fixture(name: string): Uint8Array {
  return Deno.readFileSync(join(FIXTURES, name));
}

function expectedValue(value: Expected["values"][number]): number {
  if (value === "nan") return NaN;
  if (value === "inf") return Infinity;
  if (value === "-inf") return -Infinity;
  return value;
}

/** Every tensor equal to the reference: keys in order, dtype, shape, values bit for bit. */
function assertMatches(actual: StateDict, expected: Record<string, Expected>) {
  assert.deepEqual([...actual.keys()].sort(), Object.keys(expected).sort());
  for (const [key, want] of Object.entries(expected)) {
    const tensor = actual.get(key)!;
    assert.equal(tensor.dtype, want.dtype, `${key}: dtype`);
    assert.deepEqual(tensor.shape, want.shape, `${key}: shape`);
    assert.ok(tensor.data instanceof Float32Array, `${key}: Float32Array`);
    assert.equal(tensor.data.length, want.values.length, `${key}: length`);
    want.values.forEach((value, i) => {
      const wanted = Math.fround(expectedValue(value));
      assert.ok(
        Object.is(tensor.data[i], wanted),
        `${key}[${i}]: got ${tensor.data[i]}, expected ${wanted}`,
      );
    });
  }
}

/** Asserts `fn` throws a one-line CheckpointError whose message matches `pattern`. */
function assertRefused(fn: () => unknown, pattern: RegExp): CheckpointError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof CheckpointError, `expected a CheckpointError, got ${caught}`);
  assert.equal(caught.name, "CheckpointError");
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"), `one line: ${caught.message}`);
  return caught;
}

// ---- pickles and archives built by hand -------------------------------------------------------

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
function concat(...parts: (string | Uint8Array)[]): Uint8Array {
  const arrays = parts.map((part) => typeof part === "string" ? latin1(part) : part);
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const str = (s: string) => {
  const bytes = new TextEncoder().encode(s);
  return concat("X", u32(bytes.length), bytes);
};
const int = (n: number) => concat("J", new Uint8Array(new Int32Array([n]).buffer));
const tuple = (...items: Uint8Array[]) => concat("(", ...items, "t");
const global = (module: string, name: string) => `c${module}\n${name}\n`;
const pickle = (...body: (string | Uint8Array)[]) => concat("\x80\x02", ...body, ".");
const dict = (...pairs: [string, Uint8Array][]) =>
  concat("}(", ...pairs.flatMap(([key, value]) => [str(key), value]), "u");
function tensor(
  key: string,
  numel: number,
  offset: number,
  size: number[],
  stride: number[],
  storageType = "FloatStorage",
) {
  const storage = tuple(
    str("storage"),
    latin1(global("torch", storageType)),
    str(key),
    str("cpu"),
    int(numel),
  );
  return concat(
    global("torch._utils", "_rebuild_tensor_v2"),
    tuple(
      concat(storage, "Q"),
      int(offset),
      tuple(...size.map(int)),
      tuple(...stride.map(int)),
      latin1("\x89"),
      latin1(`${global("collections", "OrderedDict")})R`),
    ),
    "R",
  );
}
function torchZip(data: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Zippable = { "archive/data.pkl": data, "archive/version": latin1("3\n") };
  for (const [key, bytes] of Object.entries(storages)) files[`archive/data/${key}`] = bytes;
  return zipSync(files, { level: 0 });
}
const floats = (...values: number[]) => new Uint8Array(new Float32Array(values).buffer);

/** A safetensors file from a header object and its data bytes. */
function safetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setUint32(0, json.length, true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

// ---- reference tensors ------------------------------------------------------------------------

for (const name of Object.keys(EXPECTED)) {
  Deno.test(`${name}: every tensor equals torch's`, () => {
    assertMatches(readStateDict(fixture(name), { source: name }), EXPECTED[name]);
  });
}

Deno.test("the format-specific readers agree with readStateDict", () => {
  assertMatches(readTorchZip(fixture("sequential.pth")), EXPECTED["sequential.pth"]);
  assertMatches(readSafetensors(fixture("tensors.safetensors")), EXPECTED["tensors.safetensors"]);
  assertRefused(
    () => readTorchZip(fixture("tensors.safetensors"), { source: "t.safetensors" }),
    /^t\.safetensors: not a zip archive/,
  );
  assertRefused(() => readSafetensors(fixture("sequential.pth"), { source: "s.pth" }), /^s\.pth: /);
});

Deno.test("bytes at an unaligned offset read the same", () => {
  for (const name of ["tensors.safetensors", "dtypes.pth"]) {
    const bytes = fixture(name);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    assertMatches(readStateDict(shifted.subarray(1)), EXPECTED[name]);
  }
});

Deno.test("state dict keys keep torch's order", () => {
  const keys = [...readStateDict(fixture("sequential.pth")).keys()];
  assert.deepEqual(keys, [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
    "3.weight",
    "3.bias",
  ]);
  assert.deepEqual(readStateDict(fixture("sequential.pth")).get("1.num_batches_tracked"), {
    dtype: "int64",
    shape: [],
    data: new Float32Array([7]),
  });
});

Deno.test("views: transposed, offset and strided tensors become contiguous row-major", () => {
  const sd = readStateDict(fixture("views.pth"));
  assert.deepEqual(Array.from(sd.get("transposed")!.data.subarray(0, 6)), [0, 6, 12, 18, 1, 7]);
  assert.deepEqual(Array.from(sd.get("narrow")!.data), [8, 9, 10, 14, 15, 16]);
  assert.deepEqual(Array.from(sd.get("expanded")!.data), [1, 2, 3, 1, 2, 3]);
  // Tensors sharing a storage do not share output memory.
  sd.get("base")!.data[8] = -1;
  assert.equal(sd.get("narrow")!.data[0], 8);
  // Two whole-storage tensors (tied weights) get separate arrays too.
  const tied = pickle(
    dict(["a", tensor("0", 2, 0, [2], [1])], ["b", tensor("0", 2, 0, [2], [1])]),
  );
  const weights = readTorchZip(torchZip(tied, { "0": floats(1, 2) }));
  weights.get("a")!.data[0] = 9;
  assert.deepEqual(weights.get("b")!.data, new Float32Array([1, 2]));
});

Deno.test("a whole checkpoint yields the model's state dict, not the optimizer's", () => {
  const sd = readStateDict(fixture("checkpoint.pth"), { source: "checkpoint.pth" });
  assert.ok(sd.has("0.weight") && sd.has("1.running_var"));
  assert.ok(![...sd.keys()].some((key) => /state|param_groups|exp_avg/.test(key)));
  assertRefused(
    () => readStateDict(fixture("optimizer_only.pth"), { source: "optimizer_only.pth" }),
    /^optimizer_only\.pth: found no dict of tensors in a checkpoint with top-level keys 'epoch', 'optimizer_state_dict'$/,
  );
});

Deno.test("conventional keys win; several unnamed nested state dicts are an error", () => {
  const w = (key: string) => tensor(key, 1, 0, [1], [1]);
  const storages = { a: floats(1), b: floats(2) };
  const named = pickle(dict(["ema", dict(["w", w("a")])], ["net", dict(["w", w("b")])]));
  assert.deepEqual(readTorchZip(torchZip(named, storages)).get("w")!.data, new Float32Array([2]));
  const unnamed = pickle(dict(["ema", dict(["w", w("a")])], ["other", dict(["w", w("b")])]));
  assertRefused(
    () => readTorchZip(torchZip(unnamed, storages), { source: "two.pth" }),
    /^two\.pth: found 2 nested dicts of tensors .* top-level keys 'ema', 'other'$/,
  );
  assertRefused(
    () => readTorchZip(torchZip(pickle(w("a")), storages), { source: "t.pth" }),
    /^t\.pth: holds a single tensor, not a dict of tensors/,
  );
});

Deno.test("non-tensor entries of a state dict are skipped", () => {
  const data = pickle(dict(["w", tensor("0", 2, 0, [2], [1])], ["version", int(2)]));
  const sd = readTorchZip(torchZip(data, { "0": floats(1, 2) }));
  assert.deepEqual([...sd.keys()], ["w"]);
});

Deno.test("DataParallel's module. prefix is dropped only when every key has it", () => {
  const sd = readStateDict(fixture("dataparallel.pth"));
  assert.ok(sd.has("0.weight") && !sd.has("module.0.weight"));
  const mixed = pickle(
    dict(["module.w", tensor("0", 1, 0, [1], [1])], ["v", tensor("0", 1, 0, [1], [1])]),
  );
  assert.deepEqual([...readTorchZip(torchZip(mixed, { "0": floats(1) })).keys()], [
    "module.w",
    "v",
  ]);
});

// ---- refusals ---------------------------------------------------------------------------------

Deno.test("malicious pickles are refused, naming the global, and nothing runs", async () => {
  assertRefused(
    () => readStateDict(fixture("malicious_system.pth"), { source: "model.pth" }),
    /^model\.pth: refuses the pickle global 'posix\.system' \(a checkpoint may only hold tensors and plain containers\)$/,
  );
  assertRefused(
    () => readStateDict(fixture("malicious_eval.pth"), { source: "model.pth" }),
    /^model\.pth: refuses the pickle global 'builtins\.eval'/,
  );
  await assert.rejects(() => Deno.stat(MARKER), Deno.errors.NotFound);
});

Deno.test("globals outside the allow-list are refused however they are named", () => {
  const cases: [Uint8Array, RegExp][] = [
    [pickle(global("__builtin__", "getattr"), ")R"), /'__builtin__\.getattr'/],
    [pickle(global("os", "system"), tuple(str("true")), "R"), /'os\.system'/],
    [pickle(global("torch.nn.modules.linear", "Linear"), ")R"), /'torch\.nn\.modules\.linear/],
    // STACK_GLOBAL with literal operands: refused while scanning, before anything is built.
    [pickle("\x8c\x08builtins\x94\x8c\x04eval\x94\x93"), /'builtins\.eval'/],
    // Operands the scan cannot see through (a POP between them): refused by the resolver.
    [
      pickle(str("builtins"), str("x"), "0", str("eval"), "\x93", tuple(str("1")), "R"),
      /'builtins\.eval'/,
    ],
    // A name with a newline stays on one line.
    [pickle(str("os"), str("sys\ntem"), "\x93"), /'os\.sys\\ntem'/],
    // ...and from the memo.
    [pickle(str("posix"), "\x94", str("system"), "\x94", "0h\x00h\x01\x93"), /'posix\.system'/],
  ];
  for (const [data, pattern] of cases) {
    assertRefused(() => readTorchZip(torchZip(data), { source: "evil.pth" }), pattern);
  }
});

Deno.test("opcodes outside the allow-list are refused by name", () => {
  const cases: [Uint8Array, RegExp][] = [
    [pickle(global("collections", "OrderedDict"), ")\x81"), /opcode NEWOBJ \(0x81\) at byte \d+/],
    [pickle("(", "ios\nsystem\n"), /opcode INST \(0x69\)/],
    [pickle("(", global("collections", "OrderedDict"), "o"), /opcode OBJ \(0x6f\)/],
    [pickle("\x82\x01"), /opcode EXT1 \(0x82\)/],
    [pickle("P0\n"), /opcode PERSID \(0x50\)/],
    [pickle("(", str("a"), int(1), "d"), /opcode DICT \(0x64\)/],
    [pickle("\xff"), /unknown pickle opcode 0xff at byte 2/],
    [concat("\x80\x06", "N."), /pickle protocol 6/],
  ];
  for (const [data, pattern] of cases) {
    assertRefused(() => readTorchZip(torchZip(data), { source: "evil.pth" }), pattern);
  }
});

Deno.test("a pickle can neither call a storage type, rewrite a tensor, nor reach a prototype", () => {
  assertRefused(
    () => readTorchZip(torchZip(pickle(global("torch", "FloatStorage"), ")R"))),
    /torch\.FloatStorage is a storage type/,
  );
  // BUILD on a rebuilt tensor, trying to replace its data.
  const build = pickle(
    dict(["w", concat(tensor("0", 1, 0, [1], [1]), dict(["data", int(1)]), "b")]),
  );
  assertRefused(() => readTorchZip(torchZip(build, { "0": floats(1) })), /^corrupt checkpoint \(/);
  // "__proto__" is only ever a Map key.
  const proto = pickle(
    dict(
      ["__proto__", dict(["polluted", int(1)])],
      ["model", dict(["w", tensor("0", 1, 0, [1], [1])])],
    ),
  );
  const sd = readTorchZip(torchZip(proto, { "0": floats(3) }));
  assert.deepEqual([...sd.keys()], ["w"]);
  assert.equal((({}) as Record<string, unknown>).polluted, undefined);
});

Deno.test("legacy, bare-pickle, TorchScript, empty and unknown files are refused with advice", () => {
  assertRefused(
    () => readStateDict(fixture("legacy.pth"), { source: "old.pth" }),
    /^old\.pth: is in torch\.save's legacy \(pre-1\.6\) format.*torch >= 1\.6.*torch\.save\(state_dict, f\)/,
  );
  assertRefused(
    () => readStateDict(pickle("N"), { source: "x.pkl" }),
    /^x\.pkl: is a bare pickle, not a torch\.save zip archive; re-save/,
  );
  assertRefused(
    () => readStateDict(fixture("torchscript.pt"), { source: "m.pt" }),
    /^m\.pt: is a TorchScript archive/,
  );
  assertRefused(
    () => readStateDict(new Uint8Array(0), { source: "e.pth" }),
    /^e\.pth: empty file$/,
  );
  assertRefused(
    () => readStateDict(latin1("<!DOCTYPE html>"), { source: "page.pth" }),
    /^page\.pth: unknown checkpoint format \(starts with 3c 21 44 4f/,
  );
  assertRefused(
    () => readStateDict(zipSync({ "a.txt": latin1("hi") }), { source: "a.zip" }),
    /^a\.zip: no <archive>\/data\.pkl in the zip \(entries: a\.txt\)/,
  );
  assertRefused(() => readStateDict(latin1("hi")), /^unknown checkpoint format/);
});

// ---- truncated and corrupt files --------------------------------------------------------------

Deno.test("every truncation of a torch.save file is a one-line CheckpointError", () => {
  const bytes = fixture("sequential.pth");
  for (let length = 0; length < bytes.length; length++) {
    assertRefused(
      () => readStateDict(bytes.subarray(0, length), { source: "model.pth" }),
      /^model\.pth: /,
    );
  }
  assertRefused(
    () => readTorchZip(bytes.subarray(0, bytes.length - 30), { source: "model.pth" }),
    /^model\.pth: truncated: no zip central directory/,
  );
});

Deno.test("every truncation of a safetensors file is a one-line CheckpointError", () => {
  const bytes = fixture("tensors.safetensors");
  for (let length = 0; length < bytes.length; length++) {
    assertRefused(
      () => readStateDict(bytes.subarray(0, length), { source: "w.safetensors" }),
      /^w\.safetensors: /,
    );
  }
  assertRefused(
    () => readSafetensors(bytes.subarray(0, bytes.length - 1), { source: "w.safetensors" }),
    /^w\.safetensors: tensor '\w+': data_offsets \[\d+, \d+\] lie outside the \d+ data bytes \(truncated file\?\)$/,
  );
  assertRefused(
    () => readSafetensors(bytes.subarray(0, 50), { source: "w.safetensors" }),
    /^w\.safetensors: truncated: the safetensors header needs \d+ bytes, has 42$/,
  );
});

Deno.test("short, missing and overrun storages are named", () => {
  const files = unzipSync(fixture("views.pth"));
  const rezip = (edit: (files: Record<string, Uint8Array>) => void) => {
    const copy = { ...files };
    edit(copy);
    return zipSync(copy, { level: 0 });
  };
  assertRefused(
    () =>
      readTorchZip(rezip((f) => f["views/data/0"] = f["views/data/0"].subarray(0, 10)), {
        source: "model.pth",
      }),
    /^model\.pth: truncated: storage data\/0 needs 96 bytes, has 10$/,
  );
  assertRefused(
    () => readTorchZip(rezip((f) => delete f["views/data/1"]), { source: "model.pth" }),
    /^model\.pth: storage data\/1 is missing from the archive$/,
  );
  const overrun = pickle(dict(["w", tensor("0", 4, 2, [2, 2], [2, 1])]));
  assertRefused(
    () => readTorchZip(torchZip(overrun, { "0": floats(1, 2, 3, 4) }), { source: "o.pth" }),
    /^o\.pth: a tensor of size \[2,2\], stride \[2,1\] at offset 2 reads element 5 of storage data\/0, which holds 4$/,
  );
  const shortStorage = pickle(dict(["w", tensor("0", 4, 0, [4], [1])]));
  assertRefused(
    () => readTorchZip(torchZip(shortStorage, { "0": floats(1, 2) })),
    /^truncated: storage data\/0 needs 16 bytes, has 8$/,
  );
});

Deno.test("views cannot expand a small file into gigabytes", () => {
  const expanded = pickle(dict(["w", tensor("0", 1, 0, [2 ** 27], [0])]));
  assertRefused(
    () => readTorchZip(torchZip(expanded, { "0": floats(1) }), { source: "bomb.pth" }),
    /^bomb\.pth: a tensor of size \[134217728\] over storage data\/0 \(1 elements\) expands past/,
  );
  // Each view fits; together they would not.
  const view = (i: number): [string, Uint8Array] => [`w${i}`, tensor("0", 1, 0, [2 ** 20], [0])];
  const many = pickle(dict(...Array.from({ length: 17 }, (_, i) => view(i))));
  assertRefused(
    () => readTorchZip(torchZip(many, { "0": floats(1) })),
    /^a tensor of size \[1048576\] over storage data\/0 \(1 elements\) expands past/,
  );
  const fits = pickle(dict(...Array.from({ length: 15 }, (_, i) => view(i))));
  assert.equal(readTorchZip(torchZip(fits, { "0": floats(1) })).size, 15);
  const twoTypes = pickle(
    dict(["a", tensor("0", 1, 0, [1], [1])], ["b", tensor("0", 1, 0, [1], [1], "IntStorage")]),
  );
  assertRefused(
    () => readTorchZip(torchZip(twoTypes, { "0": floats(1) })),
    /^storage data\/0 is read as both float32 and int32$/,
  );
  assertRefused(
    () =>
      readTorchZip(
        torchZip(pickle(dict(["c", tensor("0", 1, 0, [1], [1], "ComplexFloatStorage")]))),
      ),
    /^torch\.ComplexFloatStorage tensors are not supported \(supported: float32, float16, /,
  );
  // A deflated entry whose central directory claims an implausible size is not inflated.
  const zip = zipSync({
    "archive/data.pkl": [pickle("N"), { level: 0 }],
    "archive/data/0": [new Uint8Array(4096), { level: 9 }],
  });
  const header = new DataView(zip.buffer);
  for (let at = 0; at < zip.length - 4; at++) {
    if (header.getUint32(at, true) === 0x02014b50 && zip[at + 10] === 8) {
      header.setUint32(at + 24, 0xfffffff0, true);
    }
  }
  assertRefused(
    () => readTorchZip(zip, { source: "z.pth" }),
    /^z\.pth: zip entry archive\/data\/0 claims to inflate \d+ bytes to 4294967280 \(a zip bomb\?\)$/,
  );
});

Deno.test("inconsistent safetensors headers are refused, naming the tensor", () => {
  const data = floats(1, 2, 3, 4);
  const entry = (dtype: string, shape: number[], offsets: number[]) => ({
    w: { dtype, shape, data_offsets: offsets },
    __metadata__: { format: "pt" },
  });
  const cases: [unknown, RegExp][] = [
    [
      entry("F32", [4], [0, 32]),
      /tensor 'w': data_offsets \[0, 32\] lie outside the 16 data bytes/,
    ],
    [entry("F32", [4], [12, 8]), /tensor 'w': data_offsets \[12, 8\] lie outside/],
    [
      entry("F32", [3], [0, 16]),
      /tensor 'w': data_offsets \[0, 16\] span 16 bytes, but F32 of shape \[3\] needs 12/,
    ],
    [entry("C64", [2], [0, 16]), /tensor 'w': dtype "C64" is not one of/],
    [entry("F32", [-4], [0, 16]), /tensor 'w': shape \[-4\] is not a list of sizes/],
    [entry("F32", [4], [0]), /tensor 'w': data_offsets \[0\] is not \[begin, end\]/],
    [[1, 2], /the safetensors header is not a JSON object/],
  ];
  for (const [header, pattern] of cases) {
    assertRefused(() => readSafetensors(safetensors(header, data), { source: "x" }), pattern);
  }
  const bad = safetensors({}, data);
  bad[9] = 0x7b; // "{{"
  assertRefused(() => readSafetensors(bad), /the safetensors header is not valid JSON/);
  const huge = safetensors({}, data);
  new DataView(huge.buffer).setUint32(4, 1, true);
  assertRefused(() => readSafetensors(huge), /header length 4294967298 is over the 100 MB limit/);
});

Deno.test("mutated pickles never throw anything but CheckpointError", () => {
  const files = unzipSync(fixture("checkpoint.pth"));
  const name = Object.keys(files).find((key) => key.endsWith("/data.pkl"))!;
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let refused = 0;
  for (let trial = 0; trial < 400; trial++) {
    const data = files[name].slice();
    for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
      data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
    }
    const bytes = zipSync({ ...files, [name]: data }, { level: 0 });
    try {
      readTorchZip(bytes, { source: "fuzz.pth" });
    } catch (error) {
      assert.ok(error instanceof CheckpointError, `trial ${trial}: ${error}`);
      assert.ok(error.message.startsWith("fuzz.pth: ") && !error.message.includes("\n"));
      refused++;
    }
  }
  assert.ok(refused > 100, `${refused} of 400 mutations refused`);
});
