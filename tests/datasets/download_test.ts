// Downloads against a local HTTP server on 127.0.0.1: a good file, a corrupted one, a connection
// dropped mid-body (resumed with Range), and a dead mirror. No test touches the internet.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatasetError, downloadResource, extractTarGz, formatProgress } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

const PAYLOAD = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);
const MD5 = createHash("md5").update(PAYLOAD).digest("hex");

interface Server {
  url: string;
  ranges: string[];
  close(): Promise<void>;
}

/** Serves PAYLOAD at /good, a corrupted copy at /corrupt, drops /flaky mid-body once, 404s. */
function serve(): Server {
  const ranges: string[] = [];
  let flakyCalls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    const range = request.headers.get("range");
    if (range) ranges.push(`${path} ${range}`);
    if (path === "/corrupt") {
      const bad = PAYLOAD.slice();
      bad[1000] ^= 0xff;
      return new Response(bad);
    }
    if (path === "/good" || path === "/flaky") {
      const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
      const body = PAYLOAD.subarray(start);
      const headers = { "content-length": String(body.length) };
      if (path === "/flaky" && flakyCalls++ === 0) {
        // Send half, then fail the stream: the client sees a dropped connection.
        const stream = new ReadableStream({
          start(controller) {
            controller.enqueue(body.subarray(0, 100_000));
            setTimeout(() => controller.error(new Error("connection reset")), 10);
          },
        });
        return new Response(stream, { headers });
      }
      return new Response(body, { status: range ? 206 : 200, headers });
    }
    return new Response("not here", { status: 404 });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}`, ranges, close: () => server.shutdown() };
}

const quiet = { onProgress: () => {}, backoffMs: 1 };

Deno.test("a good download is renamed into place only after its checksum matches", async () => {
  const server = serve();
  const dir = await tempDir("download-");
  const dest = join(dir, "file.bin");
  const lines: string[] = [];
  await downloadResource([`${server.url}/good`], dest, MD5, {
    ...quiet,
    onProgress: (l) => lines.push(l),
  });
  assert.deepEqual(await Deno.readFile(dest), PAYLOAD);
  await assert.rejects(() => Deno.stat(`${dest}.part`), Deno.errors.NotFound);
  assert.match(lines.at(-1)!, /^file\.bin: 0\.3\/0\.3 MiB \(100%\), [\d.]+ MiB\/s, ETA 0s$/);
  await server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a wrong checksum deletes the temp file and says so", async () => {
  const server = serve();
  const dir = await tempDir("download-");
  const dest = join(dir, "file.bin");
  await assert.rejects(
    () => downloadResource([`${server.url}/corrupt`], dest, MD5, quiet),
    (error: unknown) =>
      error instanceof DatasetError &&
      new RegExp(`checksum mismatch \\(md5 [0-9a-f]{32}, expected ${MD5}\\); deleted the download`)
        .test(error.message),
  );
  await assert.rejects(() => Deno.stat(dest), Deno.errors.NotFound);
  await assert.rejects(() => Deno.stat(`${dest}.part`), Deno.errors.NotFound);
  await server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a connection dropped mid-body is retried and resumed with Range", async () => {
  const server = serve();
  const dir = await tempDir("download-");
  const dest = join(dir, "file.bin");
  await downloadResource([`${server.url}/flaky`], dest, MD5, quiet);
  assert.deepEqual(await Deno.readFile(dest), PAYLOAD);
  assert.equal(server.ranges.length, 1);
  assert.match(server.ranges[0], /^\/flaky bytes=\d+-$/);
  assert.ok(Number(/=(\d+)-/.exec(server.ranges[0])![1]) >= 100_000, "resumed, not restarted");
  await server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a dead mirror falls through to the next; all failing lists every reason", async () => {
  const server = serve();
  const dir = await tempDir("download-");
  const dest = join(dir, "file.bin");
  await downloadResource([`${server.url}/missing`, `${server.url}/good`], dest, MD5, quiet);
  assert.deepEqual(await Deno.readFile(dest), PAYLOAD);
  await assert.rejects(
    () => downloadResource([`${server.url}/missing`], join(dir, "other.bin"), MD5, quiet),
    /other\.bin: download failed: .*\/missing: HTTP 404/,
  );
  await server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tar.gz archives extract their files; entries escaping the folder are refused", async () => {
  const dir = await tempDir("tar-");
  const entry = (name: string, body: Uint8Array, type = "0") => {
    const header = new Uint8Array(512);
    const put = (text: string, at: number) => header.set(new TextEncoder().encode(text), at);
    put(name, 0);
    put(body.length.toString(8).padStart(11, "0"), 124);
    put(type, 156);
    return [header, body, new Uint8Array((512 - (body.length % 512)) % 512)];
  };
  const tar = (parts: Uint8Array[][]) =>
    new Blob([...parts.flat(), new Uint8Array(1024)] as BlobPart[]).stream()
      .pipeThrough(new CompressionStream("gzip"));
  const good = join(dir, "good.tar.gz");
  await Deno.writeFile(
    good,
    tar([entry("set/", new Uint8Array(), "5"), entry("set/a.bin", new Uint8Array([1, 2, 3]))]),
  );
  const written = await extractTarGz(good, dir);
  assert.deepEqual(written, [join(dir, "set/a.bin")]);
  assert.deepEqual([...await Deno.readFile(join(dir, "set/a.bin"))], [1, 2, 3]);
  const evil = join(dir, "evil.tar.gz");
  await Deno.writeFile(evil, tar([entry("../escape.bin", new Uint8Array([1]))]));
  await assert.rejects(() => extractTarGz(evil, dir), /refusing tar entry outside/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("progress lines show bytes, percent, rate and ETA", () => {
  assert.equal(formatProgress("x", 1024 * 1024, undefined, 1), "x: 1.0 MiB, 1.0 MiB/s");
});

Deno.test("a permission refusal is not retried and says which flag allows it", async () => {
  const dir = await tempDir("download-");
  let calls = 0;
  const refusing = (() => {
    calls++;
    return Promise.reject(new Deno.errors.NotCapable("Requires net access"));
  }) as typeof fetch;
  await assert.rejects(
    () =>
      downloadResource(["https://example.org/a.gz"], join(dir, "a.gz"), MD5, {
        ...quiet,
        fetch: refusing,
      }),
    /refused by Deno's permissions; allow it with --allow-net=example\.org/,
  );
  assert.equal(calls, 1);
  await Deno.remove(dir, { recursive: true });
});
