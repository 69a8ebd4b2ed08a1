// Internal: finding the next JPEG marker the way libjpeg's next_marker does, so that junk where
// a marker should be is skipped (with a warning) rather than fatal, as it is in libjpeg and PIL.

/** Where the next marker's 0xFF is, and how many bytes were skipped to reach it. */
export interface FoundMarker {
  /** Offset of the 0xFF just before the marker code (the fill bytes before it are skipped). */
  at: number;
  /** Bytes that were neither a marker nor fill: libjpeg's "extraneous bytes". */
  skipped: number;
}

/**
 * Skips bytes from `at` up to the next marker: an 0xFF (after any fill 0xFFs) followed by a byte
 * other than 0x00. A stuffed 0xFF 0x00 is junk here, as in libjpeg. `at` is `bytes.length` when
 * no marker follows.
 */
export function findMarker(bytes: Uint8Array, at: number): FoundMarker {
  let skipped = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) {
      skipped++;
      at++;
      continue;
    }
    let next = at + 1;
    while (next < bytes.length && bytes[next] === 0xff) next++;
    if (next >= bytes.length) break;
    if (bytes[next] !== 0x00) return { at: next - 1, skipped };
    skipped += 2;
    at = next + 1;
  }
  return { at: bytes.length, skipped };
}

/** libjpeg's warning for skipped bytes, naming the marker they preceded. */
export function extraneousWarning(found: FoundMarker, bytes: Uint8Array): string {
  const marker = found.at + 1 < bytes.length ? bytes[found.at + 1] : -1;
  return `Corrupt JPEG data: ${found.skipped} extraneous bytes before ${
    marker < 0 ? "the end of the file" : `marker 0x${marker.toString(16)}`
  }`;
}
