// Internal: an InMemoryDataset as the source batches are made from, for MemoryLoader and for the
// DataLoader (whose workers get the images copied to shared memory).
import type { InMemoryDataset } from "../datasets/in_memory.ts";
import type { MemorySource } from "./source.ts";

/** `dataset`'s images (as they are, or in `images` when given), labels and shape. */
export function memorySourceOf(
  dataset: InMemoryDataset,
  images: Uint8Array = dataset.images,
): MemorySource {
  return { kind: "memory", images, labels: Int32Array.from(dataset.labels), shape: dataset.shape };
}
