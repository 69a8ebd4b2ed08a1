/**
 * torch.save's pickle: the allow-list of globals a checkpoint may name (tensor and parameter
 * rebuilders, storage types, `OrderedDict`), storages resolved from persistent ids, and tensors
 * rebuilt from (storage, offset, size, stride) as contiguous float32.
 *
 * @module
 */
import { describeValue, fail } from "./_common.ts";
import { decodeElements, gather, isContiguous, ITEM_SIZE, type StorageDtype } from "./_dtypes.ts";
import { type PickleCallable, unpickle } from "./_pickle.ts";

/** The storage classes torch pickles, by name under `torch.`, and the dtype each holds. */
const STORAGE_TYPES: Readonly<Record<string, StorageDtype>> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  DoubleStorage: "float64",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

/** Storage classes torch has that this reader does not convert; named so errors are clear. */
const UNSUPPORTED_STORAGE_TYPES = [
  "ComplexFloatStorage",
  "ComplexDoubleStorage",
  "QInt8Storage",
  "QUInt8Storage",
  "QInt32Storage",
  "QUInt4x2Storage",
  "QUInt2x4Storage",
  "UntypedStorage",
];

/**
 * One storage of the archive: raw little-endian bytes of `numel` elements of `dtype`. The
 * bytes are the unzipped entry, which this reader owns, so the first tensor covering the whole
 * storage may alias them rather than copy; every later tensor on it copies.
 */
class Storage {
  #claimed = false;
  constructor(
    readonly key: string,
    readonly dtype: StorageDtype,
    readonly numel: number,
    readonly bytes: Uint8Array,
  ) {
    Object.freeze(this);
  }

  /** Whether a tensor of `numel` elements from `offset` may alias the bytes (once only). */
  claim(offset: number, numel: number): boolean {
    if (this.#claimed || offset !== 0 || numel !== this.numel) return false;
    this.#claimed = true;
    return true;
  }
}

/**
 * How many float32 elements the tensors of one file may still expand to. Views (an `expand`'s
 * zero strides, many tensors over one storage) could otherwise turn a small file into gigabytes.
 */
interface Budget {
  elements: number;
}

/**
 * A tensor rebuilt from a pickle. Frozen, so that a pickle's `BUILD` cannot rewrite it.
 */
export class RebuiltTensor {
  constructor(
    readonly dtype: StorageDtype,
    readonly shape: readonly number[],
    readonly data: Float32Array,
  ) {
    Object.freeze(this);
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function counts(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) {
    fail(
      `a tensor's ${what} should be a tuple of non-negative integers, found ${
        describeValue(value)
      }`,
    );
  }
  return [...value];
}

function rebuildTensor(
  budget: Budget,
  storage: unknown,
  offset: unknown,
  size: unknown,
  stride: unknown,
): RebuiltTensor {
  if (!(storage instanceof Storage)) {
    fail(`_rebuild_tensor_v2 expects a storage, found ${describeValue(storage)}`);
  }
  const shape = counts(size, "size");
  const strides = counts(stride, "stride");
  if (strides.length !== shape.length) {
    fail(`a tensor's size [${shape}] and stride [${strides}] differ in length`);
  }
  if (!isCount(offset)) {
    fail(`a tensor's storage offset should be >= 0, found ${describeValue(offset)}`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(numel) || numel > budget.elements) {
    fail(
      `a tensor of size [${shape}] over storage data/${storage.key} (${storage.numel} elements) ` +
        "expands past what the file's storages can hold (a decompression bomb?)",
    );
  }
  budget.elements -= numel;
  if (numel === 0) return new RebuiltTensor(storage.dtype, shape, new Float32Array(0));
  const last = shape.reduce((end, n, d) => end + (n - 1) * strides[d], offset);
  if (last >= storage.numel) {
    fail(
      `a tensor of size [${shape}], stride [${strides}] at offset ${offset} reads element ` +
        `${last} of storage data/${storage.key}, which holds ${storage.numel}`,
    );
  }
  const data = isContiguous(shape, strides)
    ? decodeElements(storage.bytes, storage.dtype, offset, numel, storage.claim(offset, numel))
    : gather(
      decodeElements(storage.bytes, storage.dtype, offset, last - offset + 1),
      shape,
      strides,
      numel,
    );
  return new RebuiltTensor(storage.dtype, shape, data);
}

function parameterData(data: unknown): RebuiltTensor {
  if (!(data instanceof RebuiltTensor)) {
    fail(`_rebuild_parameter expects a tensor, found ${describeValue(data)}`);
  }
  return data;
}

function orderedDict(items: unknown): Map<unknown, unknown> {
  const dict = new Map<unknown, unknown>();
  if (items === undefined) return dict;
  if (!Array.isArray(items)) {
    fail(`OrderedDict expects a list of pairs, found ${describeValue(items)}`);
  }
  for (const item of items) {
    if (!Array.isArray(item) || item.length !== 2) {
      fail(`OrderedDict expects (key, value) pairs, found ${describeValue(item)}`);
    }
    dict.set(item[0], item[1]);
  }
  return dict;
}

/**
 * The object in a torch.save pickle, with tensors as {@linkcode RebuiltTensor}s, dicts as
 * `Map`s, tuples and lists as arrays. `storageBytes(key)` gives the bytes of `data/<key>`;
 * `storageTotal` is the byte size of all storages, which bounds what the tensors may expand to.
 */
export function unpickleTorch(
  pickle: Uint8Array,
  storageBytes: (key: string) => Uint8Array | undefined,
  storageTotal: number,
): unknown {
  // Fresh, frozen callables per file: a pickle cannot attach state to them for the next one.
  const globals = new Map<string, PickleCallable>();
  const storageTypes = new Map<unknown, StorageDtype | string>();
  for (const name of [...Object.keys(STORAGE_TYPES), ...UNSUPPORTED_STORAGE_TYPES]) {
    const marker: PickleCallable = () =>
      fail(`torch.${name} is a storage type; a checkpoint never calls it`);
    globals.set(`torch.${name}`, Object.freeze(marker));
    storageTypes.set(marker, STORAGE_TYPES[name] ?? name);
  }
  // Every byte of storage may be read twice, plus 16 Mi elements for expanded views (BERT's
  // `position_ids` buffer is one).
  const budget: Budget = { elements: 2 * storageTotal + 2 ** 24 };
  const add = (name: string, fn: PickleCallable) => globals.set(name, Object.freeze(fn));
  add(
    "torch._utils._rebuild_tensor_v2",
    (storage, offset, size, stride) => rebuildTensor(budget, storage, offset, size, stride),
  );
  add("torch._utils._rebuild_parameter", parameterData);
  add("torch._utils._rebuild_parameter_with_state", parameterData);
  add("collections.OrderedDict", orderedDict);

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
      fail(`unsupported persistent id ${describeValue(pid)}; expected ('storage', …)`);
    }
    const [, type, key, , numel] = pid;
    const dtype = storageTypes.get(type);
    if (dtype === undefined) fail(`a storage's type is ${describeValue(type)}, not a storage type`);
    if (!Object.hasOwn(ITEM_SIZE, dtype)) {
      const supported = Object.keys(ITEM_SIZE).join(", ");
      fail(`torch.${dtype} tensors are not supported (supported: ${supported})`);
    }
    if (typeof key !== "string") {
      fail(`a storage key should be a string, found ${describeValue(key)}`);
    }
    if (!isCount(numel)) fail(`storage data/${key} has an invalid size ${describeValue(numel)}`);
    const known = storages.get(key);
    if (known !== undefined) {
      // torch.save itself refuses to save one storage as two dtypes.
      if (known.dtype !== dtype) {
        fail(`storage data/${key} is read as both ${known.dtype} and ${dtype}`);
      }
      return known;
    }
    const bytes = storageBytes(key);
    if (bytes === undefined) fail(`storage data/${key} is missing from the archive`);
    const needed = numel * ITEM_SIZE[dtype as StorageDtype];
    if (bytes.length < needed) {
      fail(`truncated: storage data/${key} needs ${needed} bytes, has ${bytes.length}`);
    }
    const storage = new Storage(key, dtype as StorageDtype, numel, bytes);
    storages.set(key, storage);
    return storage;
  };
  return unpickle(pickle, { globals, persistentLoad });
}
