// The seed's own PyTorch LeNet (../shared/reference/torch_lenet_mnist.py, trained by PyTorch and
// saved with torch.save(state_dict)) loads into our `lenet` by order (c1, c2, f1, f2 → conv, conv,
// dense, dense; f1's inputs permuted from CHW to HWC) and scores PyTorch's test accuracy on the
// protocol's last 2,000 digits.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  DataLoader,
  evaluate,
  loadStateDict,
  mnist,
  readStateDict,
  Subset,
  useBackend,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";
import { hasTorchvision, runPython } from "./_python.ts";

const available = await hasTorchvision();

Deno.test({
  name: "the seed's PyTorch LeNet scores the same test accuracy in our lenet",
  ignore: !available,
  fn: async () => {
    await useBackend("wasm");
    const dir = await tempDir("lenet-");
    try {
      const path = `${dir}/lenet.pth`;
      const line = (await runPython(["bench/torch_lenet_state_dict.py", "--out", path])).trim()
        .split("\n").at(-1)!;
      const reference = JSON.parse(line) as { test_accuracy: number };
      const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
      const result = loadStateDict(
        model,
        readStateDict(await Deno.readFile(path), { source: path }),
      );
      assert.equal(result.mapping, "order");
      const digits = await mnist({ root: "../shared/datasets/mnist", train: false });
      const test = new Subset(digits, Array.from({ length: 2000 }, (_, i) => 8000 + i));
      const normalise = (x: tf.Tensor4D) =>
        tf.div(tf.sub(tf.div(tf.cast(x, "float32"), 255), 0.1307), 0.3081) as tf.Tensor4D;
      const evaluation = await evaluate(
        model,
        new DataLoader(test, { batchSize: 500, numWorkers: 0 }),
        { numClasses: 10, inputTransform: normalise },
      );
      model.dispose();
      assert.equal(Math.round(evaluation.accuracy * 10000) / 10000, reference.test_accuracy);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
