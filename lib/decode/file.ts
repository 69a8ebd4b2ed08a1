/**
 * `decodeImageFile`: {@linkcode decodeImage} on a file read with Deno, errors naming the file.
 * Kept apart from decode.ts so that the decoders themselves run in a web page (`./web`).
 *
 * @module
 */
import { type DecodedImage, decodeImage, type DecodeOptions } from "./decode.ts";
import { DecodeError } from "./errors.ts";

/**
 * Reads and decodes one image file; errors name the file.
 *
 * @example
 * ```ts ignore
 * import { decodeImageFile } from "./file.ts";
 * const image = await decodeImageFile("photo.jpg", { channels: 3 });
 * console.log(image.width, image.height);
 * ```
 */
export async function decodeImageFile(
  path: string,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const bytes = await Deno.readFile(path);
  try {
    return decodeImage(bytes, options);
  } catch (error) {
    if (error instanceof DecodeError) throw error.withPath(path);
    throw error;
  }
}
