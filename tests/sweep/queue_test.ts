import assert from "node:assert/strict";
import { parseQueueUrl } from "../../mod.ts";
import { makeColorFolder } from "../_images.ts";
import { hasRedis, killedWorkerSweep } from "./_queue.ts";

Deno.test("queue urls: redis://host:port[/db], anything else is one line", () => {
  assert.deepEqual(parseQueueUrl("redis://127.0.0.1"), { host: "127.0.0.1", port: 6379, db: 0 });
  assert.throws(() => parseQueueUrl("127.0.0.1:6379"), /^QueueUrlError: expected redis/);
});

Deno.test({
  name:
    "queue sweep: a worker killed with SIGKILL mid-trial; the trial resumes on the other, each ends once",
  // CI installs Debian's redis-server; without it there is no queue to test.
  ignore: !hasRedis,
  fn: () =>
    killedWorkerSweep(
      {
        model: "compact-cnn",
        "img-size": 32,
        epochs: 4,
        "batch-size": 8,
        threads: 1,
        onnx: false,
        cache: false,
      },
      async (dir) => {
        await makeColorFolder(`${dir}/colors`, { perClass: 40 });
        return { dataset: `${dir}/colors` };
      },
    ),
});
