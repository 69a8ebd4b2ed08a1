// Internal: an ONNX graph under construction, as plain objects with onnx.proto's field names
// (encoded by protobufjs in _proto.ts). Weights are float32 initializers, or float16 ones each
// followed by a Cast back to float32 when the export asks for half-size weights.

/** onnx.TensorProto.DataType values used here. */
export const FLOAT = 1;
export const INT64 = 7;
export const FLOAT16 = 10;

/** An attribute value: a float, an int, a list of ints or a string. */
export type AttributeValue =
  | { f: number }
  | { i: number }
  | { ints: number[] }
  | { s: string };

type Attribute = Record<string, unknown>;

function attribute(name: string, value: AttributeValue): Attribute {
  // onnx.AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7.
  if ("f" in value) return { name, type: 1, f: value.f };
  if ("i" in value) return { name, type: 2, i: value.i };
  if ("s" in value) return { name, type: 3, s: new TextEncoder().encode(value.s) };
  return { name, type: 7, ints: value.ints };
}

function bytesOf(data: Float32Array | Float16Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function float16Bytes(data: Float32Array): Uint8Array {
  const half = new Float16Array(data.length);
  half.set(data);
  return bytesOf(half);
}

/** A graph being built: nodes in topological order and named initializers. */
export class GraphBuilder {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  readonly #used = new Set<string>();
  readonly #float16: boolean;

  constructor(options: { float16: boolean }) {
    this.#float16 = options.float16;
  }

  /** A tensor name based on `base` that no other tensor or node has. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.#used.has(name); i++) name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }

  /** Reserves a name exactly (graph inputs and outputs). */
  reserve(name: string): string {
    this.#used.add(name);
    return name;
  }

  /** Adds a node and returns its output names (`outputs` of them, named after `base`). */
  node(
    opType: string,
    inputs: string[],
    base: string,
    attributes: Record<string, AttributeValue> = {},
    options: { exact?: boolean } = {},
  ): string[] {
    // `exact`: the output is named `base` itself, a name reserved for it beforehand.
    const names = [options.exact ? base : this.unique(base)];
    this.nodes.push({
      name: this.unique(`${base}/${opType}`),
      op_type: opType,
      input: inputs,
      output: names,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return names;
  }

  /** A float weight (float16 plus a Cast when the export asks for it); returns its name. */
  weight(base: string, dims: number[], data: Float32Array): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new Error(`weight '${base}': ${data.length} values for shape [${dims}]`);
    }
    if (!this.#float16) return this.#initializer(base, dims, FLOAT, bytesOf(data));
    const half = this.#initializer(`${base}_fp16`, dims, FLOAT16, float16Bytes(data));
    return this.node("Cast", [half], base, { to: { i: FLOAT } })[0];
  }

  /** A float32 constant that stays float32 (clip bounds, scales of one value). */
  floatConstant(base: string, dims: number[], values: number[]): string {
    return this.#initializer(base, dims, FLOAT, bytesOf(Float32Array.from(values)));
  }

  /** An int64 constant (shapes, pads, axes). */
  int64Constant(base: string, values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.#initializer(base, [values.length], INT64, bytesOf(data));
  }

  /** Renames a tensor produced by a node (so the graph's output has its public name). */
  renameOutput(from: string, to: string): boolean {
    for (const node of this.nodes) {
      const outputs = node.output as string[];
      const index = outputs.indexOf(from);
      if (index < 0) continue;
      outputs[index] = to;
      for (const other of this.nodes) {
        other.input = (other.input as string[]).map((name) => name === from ? to : name);
      }
      return true;
    }
    return false;
  }

  #initializer(base: string, dims: number[], dataType: number, bytes: Uint8Array): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims, data_type: dataType, raw_data: bytes.slice() });
    return name;
  }
}
