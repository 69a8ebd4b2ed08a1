// Write your own transform and use it in a DataLoader.
//
// A transform is a plain object: a `name`, JSON `options`, and `apply(image, rng)` returning the
// new image. This one is RandomErasing (torchvision.transforms.RandomErasing): with probability
// p it blanks a random rectangle, after `normalize` as in torchvision, so the blank is the
// dataset mean. Every random choice comes from `rng`, which the loader seeds from (seed, epoch,
// sample index): the same seed gives the same batches, a new epoch new ones. Custom transforms
// run on the loading thread (`numWorkers: 0`): workers rebuild the pipeline from its JSON spec,
// and they know only the library's own transforms (with workers, the DataLoader says so when it
// is made). A custom step may come before or after `normalize`.
//
// Run:    deno run --allow-read --allow-write=data/examples examples/custom_transform.ts
// Prints: how much of each image of the first batch was erased, whether the same seed repeats
//         the batch and a new epoch changes it, and the preview written to
//         data/examples/custom_transform/batch.png (the batch side by side).
import {
  type AnyImage,
  compose,
  DataLoader,
  displayImage,
  ImageFolder,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomHorizontalFlip,
  randomResizedCrop,
  type RawImage,
  type Rng,
  savePng,
  type Transform,
} from "../mod.ts";

/** RandomErasing on float pixels: a rectangle of `scale` of the area, aspect in [0.3, 3.3]. */
function randomErasing(p = 0.5, scale: [number, number] = [0.02, 0.33], value = 0): Transform {
  return {
    name: "randomErasing",
    options: { p, scale, value },
    apply(image: AnyImage, rng: Rng): AnyImage {
      if (!(image.data instanceof Float32Array)) {
        throw new TypeError("randomErasing works on float pixels: put it after normalize");
      }
      if (rng.next() >= p) return image;
      const { width, height, channels } = image;
      for (let attempt = 0; attempt < 10; attempt++) {
        const area = width * height * rng.uniform(scale[0], scale[1]);
        const aspect = Math.exp(rng.uniform(Math.log(0.3), Math.log(3.3)));
        const [h, w] = [Math.round(Math.sqrt(area * aspect)), Math.round(Math.sqrt(area / aspect))];
        if (h < 1 || w < 1 || h >= height || w >= width) continue;
        const [top, left] = [rng.int(height - h + 1), rng.int(width - w + 1)];
        const data = image.data.slice();
        for (let y = top; y < top + h; y++) {
          data.fill(value, (y * width + left) * channels, (y * width + left + w) * channels);
        }
        return { ...image, data };
      }
      return image;
    },
  };
}

const side = 96;
const transform = compose([
  randomResizedCrop(side),
  randomHorizontalFlip(),
  normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD }),
  randomErasing(0.75),
]);
const photos = await ImageFolder.open("../shared/datasets/hymenoptera/val");
const options = { batchSize: 8, shuffle: true, transform, numWorkers: 0, seed: 3 };
const firstBatch = async (loader: DataLoader, epoch: number) => {
  for await (const batch of loader.batches(epoch)) return batch;
  throw new Error("no batches");
};
const batch = await firstBatch(new DataLoader(photos, options), 0);

const size = side * side * 3;
const tiles: RawImage[] = [];
for (let i = 0; i < batch.labels.length; i++) {
  const pixels = batch.images.subarray(i * size, (i + 1) * size) as Float32Array;
  const erased = pixels.filter((v) => v === 0).length / size; // normalized photos are never 0
  console.log(
    `image ${i} (${photos.classes[batch.labels[i]]}): ${(erased * 100).toFixed(1)}% erased`,
  );
  tiles.push(displayImage(pixels, [side, side, 3], { mean: IMAGENET_MEAN, std: IMAGENET_STD }));
}

const again = await firstBatch(new DataLoader(photos, options), 0);
const next = await firstBatch(new DataLoader(photos, options), 1);
const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
console.log(`same seed, same epoch: identical batch ${same(batch.images, again.images)}`);
console.log(`same seed, next epoch: identical batch ${same(batch.images, next.images)}`);

// The batch side by side, erased rectangles in the dataset's mean colour.
const width = side * tiles.length;
const row = new Uint8Array(width * side * 3);
tiles.forEach((tile, i) => {
  for (let y = 0; y < side; y++) {
    row.set(tile.data.subarray(y * side * 3, (y + 1) * side * 3), (y * width + i * side) * 3);
  }
});
const preview = "data/examples/custom_transform/batch.png";
await Deno.mkdir("data/examples/custom_transform", { recursive: true });
await savePng(preview, { width, height: side, channels: 3, data: row });
console.log(`wrote ${preview}`);
