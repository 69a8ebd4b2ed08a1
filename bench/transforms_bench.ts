// Per-image transform cost on a photo-sized RGB image (341×256, the cache's shorter side 256):
// the ImageNet train recipe's steps and the eval resize, as a worker runs them.
// Run: deno bench --allow-read=. bench/transforms_bench.ts
import {
  centerCrop,
  colorJitter,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
  Rng,
} from "../mod.ts";

const image = {
  width: 341,
  height: 256,
  channels: 3 as const,
  data: new Uint8Array(341 * 256 * 3).map((_, i) => (i * 7919) % 256),
};
let index = 0;
const bench = (name: string, transform: { apply: (i: typeof image, r: Rng) => unknown }) =>
  Deno.bench({
    name,
    group: "transforms",
    fn: () => {
      transform.apply(image, new Rng(0, index++));
    },
  });

bench("randomResizedCrop(224), 341×256 RGB", randomResizedCrop(224));
bench("resize(256) then the eval centerCrop(224)", {
  apply: (i, r) => centerCrop(224).apply(resize(256).apply(i, r), r),
});
bench("randomHorizontalFlip", randomHorizontalFlip(1));
bench(
  "colorJitter(0.4, 0.4, 0.4, 0.1)",
  colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 }),
);
