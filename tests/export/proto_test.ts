// _onnx_schema.json is what protobufjs makes of _onnx.proto (onnx's schema, copied from the onnx
// package). After replacing _onnx.proto, regenerate the JSON with:
//   deno eval 'import p from "protobufjs"; console.log(JSON.stringify(p.parse(Deno.readTextFileSync(
//     "lib/export/_onnx.proto"), { keepCase: true }).root.toJSON()))' > lib/export/_onnx_schema.json
//   deno fmt lib/export/_onnx_schema.json
import assert from "node:assert/strict";
import { parse } from "protobufjs";
import schema from "../../lib/export/_onnx_schema.json" with { type: "json" };

Deno.test("_onnx_schema.json is protobufjs' descriptor of _onnx.proto", async () => {
  const text = await Deno.readTextFile(new URL("../../lib/export/_onnx.proto", import.meta.url));
  const root = parse(text, { keepCase: true }).root;
  assert.deepEqual(JSON.parse(JSON.stringify(root.toJSON())), schema);
});
