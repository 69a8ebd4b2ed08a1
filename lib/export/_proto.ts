// Internal: ONNX's protobuf messages through protobufjs, from the JSON descriptor of onnx.proto
// (the schema text is _onnx.proto, copied from the onnx package; tests/export/proto_test.ts
// checks that _onnx_schema.json is what protobufjs makes of it and says how to regenerate it).
import { Root, type Type } from "protobufjs";
import schema from "./_onnx_schema.json" with { type: "json" };

let modelType: Type | undefined;

/** The `onnx.ModelProto` message type. */
export function modelProto(): Type {
  modelType ??= Root.fromJSON(schema).lookupType("onnx.ModelProto");
  return modelType;
}

/** Encodes a ModelProto given as a plain object with onnx.proto's snake_case field names. */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const type = modelProto();
  const problem = type.verify(model);
  if (problem !== null) throw new Error(`invalid ONNX ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes a ModelProto into a plain object (int64 as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProto();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true });
}
