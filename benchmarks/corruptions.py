"""Time to generate corrupted test sets on the fly (keras_tna.analysis.corruptions).

On real CIFAR-10 test images (32x32, from the image folder; a seeded random
sample of `--num_images`), for each of the 15 common corruptions:

- ms/image in this process (`num_workers=1`), averaged over `--severities`,
  after a 2-image warm-up (glass blur's numba compile is timed apart);
- for frost, the same with imagecorruptions' own `corrupt(..., "frost")`
  (it re-reads and re-scales its frost picture per image) for the speed-up of
  the cached version keras_tna uses;
- the wall time for all 15 corruptions at the first severity in this
  process and in a pool of `--num_workers` processes (pool start timed
  apart), checking that both give the same images.

Extrapolation to the full job, 10,000 images x 15 corruptions x 5 severities
(75 variants): sum over corruptions of ms/image x 10,000 x 5, single process,
and divided by the measured parallel speed-up.

Usage:
    python benchmarks/corruptions.py --num_images=1000 --severities=1,3,5 --num_workers=2
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_tna import data  # noqa: E402
from keras_tna.analysis import _corrupt_worker  # noqa: E402
from keras_tna.analysis import run_data  # noqa: E402
from keras_tna.analysis import corruptions as corr  # noqa: E402
from keras_tna.analysis import corruption_catalog as catalog  # noqa: E402

DEFAULT_FOLDER = pathlib.Path.home() / ".cache/keras_tna/cifar10-jpeg"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help="CIFAR-10 image folder")
    parser.add_argument("--num_images", type=int, default=1000)
    parser.add_argument("--severities", default="3", help="comma-separated, e.g. 1,3,5")
    parser.add_argument("--num_workers", type=int, default=catalog.default_num_workers())
    parser.add_argument("--full_images", type=int, default=10_000)
    args = parser.parse_args()
    severities = [int(s) for s in args.severities.split(",")]

    images, labels = data.load_raw(f"folder:{args.folder}", "test")
    images, labels = run_data.random_subset(images, labels, args.num_images)
    n = len(images)
    print(f"{n} CIFAR-10 test images {images.shape[1:]}, severities {severities}, "
          f"{os.cpu_count()} CPUs visible")

    _, compile_s = timed(lambda: catalog.corrupt_images(images[:2], "glass_blur", 1))
    print(f"glass_blur first call (numba compile, 2 images): {compile_s:.2f} s")
    per_image = {}
    print(f"{'corruption':18s} {'ms/image':>9s}  {'10k x 5 sev, 1 proc':>20s}")
    for name in catalog.COMMON_CORRUPTIONS:
        catalog.corrupt_images(images[:2], name, severities[0])  # warm-up
        seconds = 0.0
        for severity in severities:
            _, s = timed(lambda: catalog.corrupt_images(images, name, severity, seed=0, num_workers=1))
            seconds += s
        per_image[name] = seconds / (n * len(severities))
        full = per_image[name] * args.full_images * 5
        print(f"{name:18s} {1000 * per_image[name]:9.2f}  {full / 60:17.1f} min")

    from imagecorruptions import corrupt

    sample = images[: min(n, 200)]
    _, original = timed(lambda: [corrupt(im, severity=3, corruption_name="frost") for im in sample])
    _, cached = timed(lambda: [_corrupt_worker.frost(im, 3) for im in sample])
    print(f"frost, {len(sample)} images: imagecorruptions {1000 * original / len(sample):.2f} "
          f"ms/image, cached pictures {1000 * cached / len(sample):.2f} ms/image "
          f"({original / cached:.1f}x)")

    total_single = sum(per_image.values()) * args.full_images * 5
    print(f"\nFull job ({args.full_images} images x 15 x 5 = 75 variants), one process: "
          f"{total_single / 60:.1f} min (sum of the rows above)")

    # Parallel: the same 15 variants (first severity) in this process, then
    # in a pool of worker processes (pool start and numba compile timed apart).
    severity = severities[0]
    _, single = timed(
        lambda: [corr._corrupt(images, c, severity, 0, None) for c in catalog.COMMON_CORRUPTIONS]
    )
    with corr._executor(args.num_workers) as executor:
        seeds = catalog.image_seeds(0, "glass_blur", 1, 2)
        _, start = timed(
            lambda: [
                f.result()
                for f in [
                    executor.submit(_corrupt_worker.corrupt_chunk, images[:2], "glass_blur", 1, seeds)
                    for _ in range(args.num_workers)
                ]
            ]
        )
        results, parallel = timed(
            lambda: [corr._corrupt(images, c, severity, 0, executor) for c in catalog.COMMON_CORRUPTIONS]
        )
    reference = [corr._corrupt(images[:50], c, severity, 0, None) for c in catalog.COMMON_CORRUPTIONS]
    assert all(np.array_equal(r[:50], e) for r, e in zip(results, reference))
    speedup = single / parallel
    print(f"\n15 corruptions x severity {severity} on {n} images: one process {single:.1f} s; "
          f"{args.num_workers} worker processes {parallel:.1f} s ({speedup:.2f}x), plus "
          f"{start:.1f} s to start the pool (forkserver imports keras_tna once, numba "
          "compiles glass blur in each worker)")
    print(f"Full job with {args.num_workers} workers: ~{(start + total_single / speedup) / 60:.1f} min "
          "(pool start + one-process time / measured speed-up)")


if __name__ == "__main__":
    main()
