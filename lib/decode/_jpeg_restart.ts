// Internal: a baseline scan's entropy-coded segments, and libjpeg's recovery when its restart
// markers are missing or out of order (jdmarker.c: read_restart_marker, jpeg_resync_to_restart),
// so that such a file decodes to the pixels PIL gives instead of failing.
//
// libjpeg's entropy decoder never reads past a marker: once its bits run out at one, it decodes
// zeros, finishes that MCU from them and leaves the rest of the restart interval's MCUs zero (flat
// grey). At each restart it expects RSTn, n counting 0–7; any other marker is resolved by
// jpeg_resync_to_restart as follows, with the warning "found marker 0x.. instead of RSTn":
//   - RSTn+1 or RSTn+2, or a valid non-RST marker (EOI, DHT, ...): left unread, so the interval
//     that follows is decoded from zeros (its first MCU) and left grey (the rest);
//   - RSTn−1 or RSTn−2, or an invalid marker (below 0xC0): skipped with the data after it, and the
//     next marker decided again;
//   - anything else (RSTn itself, or one too far off to guess): taken as the expected marker.

/** A scan's entropy-coded data, split at the markers inside it. */
export interface ScanSegments {
  /**
   * Every segment's bytes with the stuffing removed (0xFF 0x00 → 0xFF), back to back, then zero
   * padding, so that any 32-bit read of a (possibly corrupt) MCU stays in bounds.
   */
  data: Uint8Array;
  /** Segment s holds `data[bounds[s]]` up to `data[bounds[s + 1]]`. */
  bounds: number[];
  /**
   * The marker code after each segment: an RSTn or an invalid marker (below 0xC0) inside the scan;
   * for the last segment, the valid marker that ends the scan, or −1 where the file ends first.
   */
  markers: number[];
}

const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;

/**
 * Splits the scan starting at `start` into segments at its markers, up to the first valid marker
 * that is not RSTn (or the end of the file). `padding` zero bytes follow the data.
 */
export function readSegments(bytes: Uint8Array, start: number, padding: number): ScanSegments {
  const data = new Uint8Array(bytes.length - start + padding);
  const bounds = [0];
  const markers: number[] = [];
  let n = 0;
  let pos = start;
  while (pos < bytes.length) {
    const byte = bytes[pos];
    if (byte !== 0xff) {
      data[n++] = byte;
      pos++;
      continue;
    }
    const next = bytes[pos + 1];
    if (next === 0x00) {
      data[n++] = 0xff;
      pos += 2;
    } else if (next === 0xff) {
      pos++; // fill byte before a marker
    } else if (pos + 1 >= bytes.length) {
      break; // a lone 0xFF at the end of the file
    } else {
      bounds.push(n);
      markers.push(next);
      if (next >= 0xc0 && !isRestart(next)) return { data, bounds, markers };
      pos += 2;
    }
  }
  bounds.push(n);
  markers.push(-1);
  return { data, bounds, markers };
}

/** Where the entropy decoder stands after a restart. */
export interface RestartPosition {
  /** The segment it reads next. */
  segment: number;
  /** True when it stands before the marker after `segment`, with no data left to read. */
  atMarker: boolean;
}

/**
 * libjpeg's restart from segment `segment`, whose following marker should be RST`expected`: where
 * decoding goes on, with a warning pushed when the marker was not the expected one. null when
 * libjpeg would need bytes past the end of the file (PIL then reports the file truncated).
 */
export function restart(
  segments: ScanSegments,
  segment: number,
  expected: number,
  warnings: string[],
): RestartPosition | null {
  let marker = segments.markers[segment];
  if (marker === 0xd0 + expected) return { segment: segment + 1, atMarker: false };
  if (marker < 0) return null;
  warnings.push(
    `Corrupt JPEG data: found marker 0x${
      marker.toString(16).padStart(2, "0")
    } instead of RST${expected}`,
  );
  for (;;) {
    if (marker < 0) return null;
    const n = marker - 0xd0;
    const ahead = isRestart(marker) && (n === ((expected + 1) & 7) || n === ((expected + 2) & 7));
    const behind = isRestart(marker) &&
      (n === ((expected - 1) & 7) || n === ((expected - 2) & 7));
    if (ahead || (marker >= 0xc0 && !isRestart(marker))) {
      return { segment, atMarker: true }; // left unread: the interval is decoded from zeros
    }
    if (!behind && marker >= 0xc0) return { segment: segment + 1, atMarker: false };
    segment++; // a prior restart or an invalid marker: skip to the next marker and decide again
    marker = segments.markers[segment];
  }
}

/**
 * Whether libjpeg, reading markers after a scan that ended in `segment`, meets one it refuses
 * (an invalid one, 0x02–0xBF, as PIL does with "broken data stream"). RSTn and TEM are skipped.
 */
export function refusedAfterScan(segments: ScanSegments, segment: number): boolean {
  const { markers } = segments;
  for (let s = segment; s < markers.length; s++) {
    const marker = markers[s];
    if (marker >= 0x02 && marker < 0xc0) return true;
  }
  return false;
}
