// Internal: the images in a request body: one JPEG/PNG body, or the file parts of a
// multipart/form-data body. The size cap is checked from Content-Length and again while the
// body streams in, so an oversized upload is refused without buffering it.
import { RequestError } from "./errors.ts";

/** One uploaded image: a name for messages and its bytes. */
export interface Upload {
  name: string;
  bytes: Uint8Array;
  /** A multipart file part (named by its file name), not the whole body. */
  part: boolean;
}

/** Limits on a request body. */
export interface BodyLimits {
  maxBodyBytes: number;
  maxImages: number;
}

/** Content types taken as one image body (the format itself is sniffed from its bytes). */
const SINGLE = new Set(["image/jpeg", "image/jpg", "image/png", "application/octet-stream"]);

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;

function tooLarge(limit: number, what: string): RequestError {
  return new RequestError(
    413,
    "body-too-large",
    `request body: ${what} is over the limit of ${mib(limit)} (--max-body-mb)`,
  );
}

/** Reads the body up to `limit` bytes; refuses (and cancels the stream) past it. */
export async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw tooLarge(limit, `Content-Length ${declared}`);
  }
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit, `the streamed body`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The images a `/predict` request carries, checked for size, count and content type. */
export async function readUploads(request: Request, limits: BodyLimits): Promise<Upload[]> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  const multipart = mediaType === "multipart/form-data";
  if (!multipart && mediaType !== "" && !SINGLE.has(mediaType)) {
    throw new RequestError(
      415,
      "unsupported-media-type",
      `request body: content type ${mediaType} is not accepted; send image/jpeg, image/png or ` +
        `multipart/form-data`,
    );
  }
  const bytes = await readCapped(request, limits.maxBodyBytes);
  if (bytes.byteLength === 0) {
    throw new RequestError(400, "empty-body", "request body: empty; send a JPEG or PNG image");
  }
  if (!multipart) return [{ name: "body", bytes, part: false }];
  let form: FormData;
  try {
    form = await new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": contentType },
    }).formData();
  } catch (error) {
    throw new RequestError(
      400,
      "bad-multipart",
      `request body: malformed multipart/form-data (${
        error instanceof Error ? error.message.split("\n")[0] : String(error)
      })`,
    );
  }
  const uploads: Upload[] = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === "string") continue;
    uploads.push({
      name: value.name || field,
      bytes: new Uint8Array(await value.arrayBuffer()),
      part: true,
    });
  }
  if (uploads.length === 0) {
    throw new RequestError(400, "empty-body", "request body: the multipart form has no file parts");
  }
  if (uploads.length > limits.maxImages) {
    throw new RequestError(
      413,
      "too-many-images",
      `request body: ${uploads.length} images, over the limit of ${limits.maxImages} per request ` +
        `(--max-images)`,
    );
  }
  for (const upload of uploads) {
    if (upload.bytes.byteLength === 0) {
      throw new RequestError(400, "empty-body", `part "${upload.name}": empty file`);
    }
  }
  return uploads;
}
