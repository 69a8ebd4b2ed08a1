/**
 * An allow-listed unpickler. pickleparser runs the opcode machinery (stack, memo, marks,
 * containers); on top of it, this module
 *
 * 1. walks every opcode once before anything is built, refusing opcodes outside
 *    {@linkcode ALLOWED} by name, globals outside the allow-list (for `GLOBAL`, and for
 *    `STACK_GLOBAL` whenever its two operands are string literals), and a truncated stream;
 * 2. then parses with resolvers that hand out only the allow-listed functions (any other
 *    global is refused when it is named, before anything can call it), refuse extension codes,
 *    and build dicts as `Map`s, so that no key can reach an object's prototype.
 *
 * Nothing in a pickle is ever executed: the only callables a pickle can reach are the
 * caller's allow-listed functions.
 *
 * @module
 */
import { Parser } from "pickleparser";
import { fail } from "./_common.ts";

/** A function a pickle may name (`GLOBAL`) and call (`REDUCE`). */
export type PickleCallable = (...args: unknown[]) => unknown;

/** What {@linkcode unpickle} lets a pickle reach. */
export interface UnpickleOptions {
  /** The allow-listed globals by `module.name`; every other global is refused. */
  globals: ReadonlyMap<string, PickleCallable>;
  /** Resolves a `BINPERSID` persistent id (torch: a storage). */
  persistentLoad(pid: unknown): unknown;
}

const WHY = "a checkpoint may only hold tensors and plain containers";

type Argument =
  | "none"
  | "u1"
  | "u2"
  | "u4"
  | "u8"
  | "line"
  | "two-lines"
  | "len1"
  | "len4"
  | "len8";

/** Every pickle opcode (protocols 0–5): name, argument layout, and whether we run it. */
const OPCODES = new Map<number, { name: string; argument: Argument; allowed: boolean }>();
function op(code: string, name: string, argument: Argument, allowed = true) {
  OPCODES.set(code.charCodeAt(0), { name, argument, allowed });
}
op("(", "MARK", "none");
op(".", "STOP", "none");
op("0", "POP", "none");
op("1", "POP_MARK", "none");
op("2", "DUP", "none");
op("F", "FLOAT", "line");
op("I", "INT", "line");
op("J", "BININT", "u4");
op("K", "BININT1", "u1");
op("L", "LONG", "line");
op("M", "BININT2", "u2");
op("N", "NONE", "none");
op("P", "PERSID", "line", false);
op("Q", "BINPERSID", "none");
op("R", "REDUCE", "none");
op("S", "STRING", "line");
op("T", "BINSTRING", "len4");
op("U", "SHORT_BINSTRING", "len1");
op("V", "UNICODE", "line");
op("X", "BINUNICODE", "len4");
op("a", "APPEND", "none");
op("b", "BUILD", "none");
op("c", "GLOBAL", "two-lines");
// Protocol 0's DICT: pickleparser would set the items as properties of a Map, not as entries.
op("d", "DICT", "none", false);
op("}", "EMPTY_DICT", "none");
op("e", "APPENDS", "none");
op("g", "GET", "line");
op("h", "BINGET", "u1");
op("i", "INST", "two-lines", false);
op("j", "LONG_BINGET", "u4");
op("l", "LIST", "none");
op("]", "EMPTY_LIST", "none");
op("o", "OBJ", "none", false);
op("p", "PUT", "line");
op("q", "BINPUT", "u1");
op("r", "LONG_BINPUT", "u4");
op("s", "SETITEM", "none");
op("t", "TUPLE", "none");
op(")", "EMPTY_TUPLE", "none");
op("u", "SETITEMS", "none");
op("G", "BINFLOAT", "u8");
op("\x80", "PROTO", "u1");
op("\x81", "NEWOBJ", "none", false);
op("\x82", "EXT1", "u1", false);
op("\x83", "EXT2", "u2", false);
op("\x84", "EXT4", "u4", false);
op("\x85", "TUPLE1", "none");
op("\x86", "TUPLE2", "none");
op("\x87", "TUPLE3", "none");
op("\x88", "NEWTRUE", "none");
op("\x89", "NEWFALSE", "none");
op("\x8a", "LONG1", "len1");
op("\x8b", "LONG4", "len4");
op("B", "BINBYTES", "len4");
op("C", "SHORT_BINBYTES", "len1");
op("\x8c", "SHORT_BINUNICODE", "len1");
op("\x8d", "BINUNICODE8", "len8");
op("\x8e", "BINBYTES8", "len8");
op("\x8f", "EMPTY_SET", "none");
op("\x90", "ADDITEMS", "none");
op("\x91", "FROZENSET", "none");
op("\x92", "NEWOBJ_EX", "none", false);
op("\x93", "STACK_GLOBAL", "none");
op("\x94", "MEMOIZE", "none");
op("\x95", "FRAME", "u8");
op("\x96", "BYTEARRAY8", "len8");
op("\x97", "NEXT_BUFFER", "none", false);
op("\x98", "READONLY_BUFFER", "none", false);

/** The opcodes this unpickler runs, by name (for documentation and tests). */
export const ALLOWED: readonly string[] = [...OPCODES.values()]
  .filter((info) => info.allowed)
  .map((info) => info.name);

const STRING_OPS = new Set([
  "STRING",
  "UNICODE",
  "BINSTRING",
  "SHORT_BINSTRING",
  "BINUNICODE",
  "SHORT_BINUNICODE",
  "BINUNICODE8",
]);
const PUT_OPS = new Set(["PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"]);
const GET_OPS = new Set(["GET", "BINGET", "LONG_BINGET"]);

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0")}`;
}

function refuseGlobal(module: string, name: string): never {
  fail(`refuses the pickle global '${module}.${name}' (${WHY})`);
}

/**
 * Walks the opcodes of `bytes` up to `STOP` without building anything, refusing what
 * {@linkcode unpickle} would not run.
 */
export function scanPickle(bytes: Uint8Array, globals: ReadonlyMap<string, unknown>): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8");
  // The last two values pushed, when they are known strings (for STACK_GLOBAL), and the
  // memo's known strings: a refusal from them is exact, and unknowns are left to the parser.
  let below: string | undefined;
  let top: string | undefined;
  const memo = new Map<number, string | undefined>();
  let pos = 0;
  while (pos < bytes.length) {
    const at = pos;
    const code = bytes[pos++];
    const info = OPCODES.get(code);
    if (info === undefined) {
      fail(`data.pkl has an unknown pickle opcode ${hex(code)} at byte ${at} (corrupt file?)`);
    }
    if (!info.allowed) {
      fail(`refuses the pickle opcode ${info.name} (${hex(code)}) at byte ${at} (${WHY})`);
    }
    const need = (count: number) => {
      if (count > bytes.length - pos) {
        fail(`truncated: data.pkl ends inside its ${info.name} opcode at byte ${at}`);
      }
    };
    const line = () => {
      const end = bytes.indexOf(0x0a, pos);
      if (end < 0) fail(`truncated: data.pkl ends inside its ${info.name} opcode at byte ${at}`);
      const text = latin1.decode(bytes.subarray(pos, end));
      pos = end + 1;
      return text;
    };
    let value: number | undefined;
    let text: string | undefined;
    switch (info.argument) {
      case "none":
        break;
      case "u1":
        need(1);
        value = bytes[pos++];
        break;
      case "u2":
        need(2);
        value = view.getUint16(pos, true);
        pos += 2;
        break;
      case "u4":
        need(4);
        value = view.getUint32(pos, true);
        pos += 4;
        break;
      case "u8":
        need(8);
        pos += 8;
        break;
      case "line":
        text = line();
        value = Number.parseInt(text, 10);
        break;
      case "two-lines": {
        const module = line();
        const name = line();
        if (!globals.has(`${module}.${name}`)) refuseGlobal(module, name);
        break;
      }
      case "len1":
      case "len4":
      case "len8": {
        const width = info.argument === "len1" ? 1 : info.argument === "len4" ? 4 : 8;
        need(width);
        let length = width === 1 ? bytes[pos] : view.getUint32(pos, true);
        if (width === 8) length += view.getUint32(pos + 4, true) * 2 ** 32;
        pos += width;
        need(length);
        if (STRING_OPS.has(info.name)) {
          const decoder = info.name.includes("UNICODE") ? utf8 : latin1;
          text = decoder.decode(bytes.subarray(pos, pos + length));
        }
        pos += length;
        break;
      }
    }
    if (info.name === "STOP") return;
    if (info.name === "PROTO" && value !== undefined && value > 5) {
      fail(`data.pkl uses pickle protocol ${value}; protocols 0–5 are understood`);
    }
    if (info.name === "STACK_GLOBAL" && below !== undefined && top !== undefined) {
      if (!globals.has(`${below}.${top}`)) refuseGlobal(below, top);
    }
    // Track the top two stack values where they are known strings. A check above fires only
    // when the last two stack-changing opcodes both pushed a known string, so it is exact.
    if (PUT_OPS.has(info.name)) {
      memo.set(info.name === "MEMOIZE" ? memo.size : value ?? -1, top);
    } else if (info.name !== "FRAME" && info.name !== "PROTO") {
      below = top;
      if (GET_OPS.has(info.name)) top = memo.get(value ?? -1);
      else if (info.name === "STRING") top = text === undefined ? undefined : unquote(text);
      else top = STRING_OPS.has(info.name) ? text : undefined;
    }
  }
  fail("truncated: data.pkl ends before its STOP opcode");
}

/** Protocol 0's STRING argument without its quotes. */
function unquote(text: string): string | undefined {
  const quote = text[0];
  return text.length >= 2 && (quote === "'" || quote === '"') && text.at(-1) === quote
    ? text.slice(1, -1)
    : undefined;
}

/**
 * The value pickled in `bytes`, built with only the allow-listed globals. Refusals and
 * malformed streams throw a `CheckpointError` (without a source); the parser's own errors
 * propagate for the caller to wrap.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  scanPickle(bytes, options.globals);
  const parser = new Parser({
    nameResolver: {
      resolve: (module: string, name: string) =>
        options.globals.get(`${module}.${name}`) ?? refuseGlobal(module, name),
    },
    persistentResolver: { resolve: (pid: unknown) => options.persistentLoad(pid) },
    extensionResolver: {
      resolve: (code: number) => fail(`refuses the pickle extension code ${code} (${WHY})`),
    },
    unpicklingTypeOfDictionary: "Map",
    unpicklingTypeOfSet: "array",
  });
  return parser.parse(bytes);
}
