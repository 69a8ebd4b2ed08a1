// Distributed sweep on `shapes` (`deno task test:long`): Debian's redis-server on a free port,
// a 2-trial sweep through BullMQ with two worker processes, one SIGKILLed in mid-trial; every
// trial ends exactly once, the killed one resumed from its checkpoint by the other worker.
import { hasRedis, killedWorkerSweep } from "../sweep/_queue.ts";

Deno.test({
  name:
    "queue sweep on shapes: a worker SIGKILLed mid-trial, the trial resumed from its checkpoint",
  ignore: !hasRedis, // CI installs Debian's redis-server; without it there is no queue
  fn: () =>
    killedWorkerSweep(
      {
        dataset: "shapes",
        epochs: 2,
        "batch-size": 64,
        threads: 1,
        onnx: false,
      },
      undefined,
      30_000,
    ), // building shapes' 10,000 images holds the event loop for seconds
});
