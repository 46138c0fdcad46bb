"""Benchmark of the embedding store: write speed, resume cost, size on disk.

All figures are ratios against baselines measured in the same run, so that they hold on a
loaded machine.

* **Write speed.** Real activations: ``--n-images`` Fashion-MNIST images through
  EfficientNet-Lite0 (centre crop, 3,120 features) give the *embedding rate* (rows/s the
  embedder produces, everything included). Those rows, tiled to whole chunks, are written
  with :class:`dks.store.StoreWriter` (each chunk written, ``fsync``-ed and marked done) for
  each compression setting, in the default chunks (8 MiB): *store rate* (rows/s the store
  absorbs). A chunk's rows are real rows drawn at random, each value times a random factor in
  [0.9, 1.1] (zeros stay zeros), so that repeated rows do not flatter compression. Printed:
  store rate /
  embedding rate (how many embedders one store keeps up with; above 1 the store never slows
  the embedding), and store rate / raw rate, where *raw* writes the same bytes with
  ``os.pwrite`` into one file and ``fsync``-s it once per chunk.
* **Resume.** A store of ``--resume-rows`` rows (default 100,000) with every chunk but the last
  done; the time to open it and find the chunk left to do, as a fraction of the time the
  embedder takes for one chunk of rows, at the default chunk size for VGG19's 9,600 features
  and with chunks of one batch (8 rows, the smallest possible).
* **Many files.** ``--files`` empty image files (default 100,000) in 1,000 class folders:
  the listing (:func:`dks.embed.image_folder`) against a bare ``os.walk``, and the resume
  check (one ``stat`` per file, the done markers read) against a bare ``os.stat`` loop.
* **Size.** Bytes on disk of the written store / bytes of the raw float32 array.
* **Checksum.** ``--checksum-mb`` MB (default 300) of those rows in the store's layout (shards
  of whole row chunks, column blocks of about 512 features inside), written shard by shard and
  read back column block by column block (from the page cache: the codec's CPU cost shows
  whole), with and without the CRC32C checksum of each column block that dks stores carry:
  time with / time without.

Usage::

    python benchmarks/bench_store.py                # about a minute on 2 CPU cores
    python benchmarks/bench_store.py --n-images 64 --chunks 20
    python benchmarks/bench_store.py --quick         # a small smoke run
"""

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def embedding_rate(n_images):
    """Rows/s of CNNEmbedder on Fashion-MNIST with EfficientNet-Lite0, and the rows."""
    from dks.datasets import load_fashion_mnist
    from dks.embed import CNNEmbedder

    images = load_fashion_mnist(n_per_class=max(1, n_images // 10))[0][:n_images]
    images = np.repeat(np.asarray(images)[..., None], 3, axis=-1).astype(np.uint8)
    embedder = CNNEmbedder(
        "efficientnet_lite0", crops="center", resize=224, batch_size=8, progress=False
    ).fit(images[:1])
    embedder.transform(images[:8])  # warm-up
    start = time.perf_counter()
    rows = embedder.transform(images)
    return len(images) / (time.perf_counter() - start), np.asarray(rows)


def _manifest(n_features):
    return {
        "settings": {"bench": True},
        "feature_names": [f"f_{i}" for i in range(n_features)],
        "layer_slices": {"f": [0, n_features]},
    }


def _disk_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(base, name))
        for base, _, files in os.walk(folder)
        for name in files
    )


def store_rate(rows, n_chunks, folder, compression):
    """Rows/s absorbed by a StoreWriter; bytes on disk / raw bytes."""
    from dks import _config
    from dks.store import StoreWriter, chunk_rows_for

    _config.STORE_COMPRESSION = compression
    chunk_rows = chunk_rows_for(rows.shape[1], 8)
    block = _distinct_rows(rows, chunk_rows)
    n_rows = chunk_rows * n_chunks
    path = Path(folder) / f"bench-{compression}.zarr"
    writer = StoreWriter(
        path, _manifest(rows.shape[1]), [str(i) for i in range(n_rows)], chunk_rows
    )
    start = time.perf_counter()
    for chunk in writer.pending:
        writer.write_chunk(chunk, block)
    writer.finish()
    rate = n_rows / (time.perf_counter() - start)
    size = _disk_bytes(path / "X") / (n_rows * rows.shape[1] * 4)
    _config.STORE_COMPRESSION = None
    return rate, size, chunk_rows


def _distinct_rows(rows, n, seed=0):
    """``n`` rows drawn from ``rows``, each value times a random factor in [0.9, 1.1]."""
    rng = np.random.default_rng(seed)
    factors = rng.uniform(0.9, 1.1, (n, rows.shape[1])).astype(np.float32)
    return rows[rng.integers(0, len(rows), n)] * factors


def raw_rate(rows, chunk_rows, n_chunks, folder):
    """Rows/s of plain ``pwrite`` + ``fsync`` per chunk of the same bytes into one file."""
    block = _distinct_rows(rows, chunk_rows)
    data = memoryview(block).cast("B")
    fd = os.open(Path(folder) / "raw.bin", os.O_WRONLY | os.O_CREAT, 0o666)
    start = time.perf_counter()
    try:
        for chunk in range(n_chunks):
            os.pwrite(fd, data, chunk * len(data))
            os.fsync(fd)
    finally:
        os.close(fd)
    return chunk_rows * n_chunks / (time.perf_counter() - start)


def resume_seconds(n_rows, n_features, chunk_rows, folder):
    """Seconds to open a store with all chunks but the last done and find that chunk."""
    from dks.store import StoreWriter

    path = Path(folder) / f"resume-{chunk_rows}.zarr"
    images = [f"/data/images/class_{i % 100}/img_{i:07d}.jpg" for i in range(n_rows)]
    writer = StoreWriter(path, _manifest(n_features), images, chunk_rows)
    nan_block = np.full((chunk_rows, n_features), np.nan, dtype=np.float32)
    for chunk in writer.pending[:-1]:  # NaN chunks are not stored: markers only, fast
        start, stop = writer.chunk_range(chunk)
        writer.write_chunk(chunk, nan_block[: stop - start])
    start = time.perf_counter()
    resumed = StoreWriter(path, _manifest(n_features), images, chunk_rows)
    seconds = time.perf_counter() - start
    assert resumed.pending == [writer.n_chunks - 1]
    return seconds, writer.n_chunks


def listing_and_resume(n_files, n_features, folder):
    """Seconds to list ``n_files`` images in 1,000 class folders and to resume over them.

    Against bare baselines of the same run: the listing (:func:`dks.embed.image_folder`)
    against one ``os.walk`` of the folders; the resume check (a StoreWriter opened on a store
    with every chunk but the last done, one ``stat`` per file) against a loop of bare
    ``os.stat`` calls. Returns ``(list_s, walk_s, resume_s, stat_s)``.
    """
    from dks.embed import image_folder
    from dks.store import StoreWriter, chunk_rows_for

    root = Path(folder) / "files"
    n_classes = min(1000, n_files)
    for c in range(n_classes):
        (root / f"n{c:08d}").mkdir(parents=True)
    for i in range(n_files):
        c = i % n_classes
        (root / f"n{c:08d}" / f"n{c:08d}_{i}.JPEG").touch()
    start = time.perf_counter()
    walked = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
    walk_s = time.perf_counter() - start
    start = time.perf_counter()
    paths, _, _ = image_folder(root)
    list_s = time.perf_counter() - start
    assert len(paths) == len(walked) == n_files
    chunk_rows = chunk_rows_for(n_features, 8)
    path = Path(folder) / "files.zarr"
    writer = StoreWriter(path, _manifest(n_features), paths, chunk_rows, files=paths)
    nan_block = np.full((chunk_rows, n_features), np.nan, dtype=np.float32)
    for chunk in writer.pending[:-1]:
        first, stop = writer.chunk_range(chunk)
        writer.write_chunk(chunk, nan_block[: stop - first])
    start = time.perf_counter()
    for p in paths:
        os.stat(p)
    stat_s = time.perf_counter() - start
    start = time.perf_counter()
    resumed = StoreWriter(path, _manifest(n_features), paths, chunk_rows, files=paths)
    resume_s = time.perf_counter() - start
    assert resumed.pending == [writer.n_chunks - 1] and not resumed.changed
    return list_s, walk_s, resume_s, stat_s


def checksum_cost(rows, megabytes, folder, repeats=3):
    """Write and read seconds of an array in the store's layout, ``{"none"|"crc32c": (w, r)}``
    (the best of ``repeats``), and its bytes.

    Zarr's own writes (no ``fsync``, the same for both), so that the ratio is the checksum's
    share of the CPU work; dks's writes also ``fsync`` each chunk, which makes it smaller.
    """
    import zarr
    from zarr.codecs import Crc32cCodec

    from dks.store import chunk_rows_for

    n_features = rows.shape[1]
    chunk_rows = chunk_rows_for(n_features, 8)
    n_chunks = max(1, megabytes * 2**20 // (chunk_rows * n_features * 4))
    block = -(-n_features // -(-n_features // 512))
    width = -(-n_features // block) * block
    data = _distinct_rows(rows, chunk_rows)
    seconds = {"none": [np.inf, np.inf], "crc32c": [np.inf, np.inf]}
    for repeat in range(repeats):  # alternated, the best of each: a loaded machine varies
        for name, codecs in (("none", None), ("crc32c", [Crc32cCodec()])):
            array = zarr.create_array(
                Path(folder) / f"checksum-{name}-{repeat}.zarr",
                shape=(chunk_rows * n_chunks, n_features),
                dtype="<f4",
                shards=(chunk_rows, width),
                chunks=(chunk_rows, block),
                fill_value=np.float32(np.nan),
                compressors=codecs,
            )
            start = time.perf_counter()
            for chunk in range(n_chunks):
                array[chunk * chunk_rows : (chunk + 1) * chunk_rows] = data
            write = time.perf_counter() - start
            start = time.perf_counter()
            for f0 in range(0, n_features, block):
                array[:, f0 : f0 + block]
            best = seconds[name]
            best[:] = min(best[0], write), min(best[1], time.perf_counter() - start)
            shutil.rmtree(Path(folder) / f"checksum-{name}-{repeat}.zarr")
    return seconds, chunk_rows * n_chunks * n_features * 4


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=48)
    parser.add_argument("--chunks", type=int, default=12, help="chunks written per setting")
    parser.add_argument("--resume-rows", type=int, default=100_000)
    parser.add_argument(
        "--files", type=int, default=100_000, help="image files listed and resumed over"
    )
    parser.add_argument("--checksum-mb", type=int, default=300, help="MB written per checksum")
    parser.add_argument("--dir", default=".", help="where to write (the disk to measure)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_images, args.chunks, args.resume_rows, args.files = 16, 2, 2000, 2000
        args.checksum_mb = 8
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the figures are for the full sizes")
    from dks.store import chunk_rows_for

    warnings.simplefilter("ignore")
    rate, rows = embedding_rate(args.n_images)
    print(f"embedding rate: {rate:.1f} rows/s ({rows.shape[1]} features, EfficientNet-Lite0)")
    print(f"zero values in the activations: {np.mean(rows == 0):.1%}")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for compression in (None, "zstd"):
            absorbed, size, chunk_rows = store_rate(rows, args.chunks, folder, compression)
            raw = raw_rate(rows, chunk_rows, args.chunks, folder)
            print(
                f"store, compression={compression}: {absorbed:.0f} rows/s = "
                f"{absorbed / rate:.0f}x the embedding rate, {absorbed / raw:.2f}x raw "
                f"pwrite+fsync; size on disk / raw array: {size:.3f}"
            )
        per_row = 1 / rate
        for n_features, chunk_rows in ((9600, chunk_rows_for(9600, 8)), (9600, 8)):
            seconds, n_chunks = resume_seconds(args.resume_rows, n_features, chunk_rows, folder)
            print(
                f"resume over {args.resume_rows} rows, {n_chunks} chunks of {chunk_rows} rows: "
                f"{seconds:.3f} s = {seconds / (chunk_rows * per_row):.2e}x the time to embed "
                "one chunk (at this run's EfficientNet-Lite0 rate)"
            )
        list_s, walk_s, resume_s, stat_s = listing_and_resume(args.files, rows.shape[1], folder)
        print(
            f"{args.files} image files in 1,000 class folders: listed in {list_s:.2f} s = "
            f"{list_s / walk_s:.1f}x a bare os.walk; resume check in {resume_s:.2f} s = "
            f"{resume_s / stat_s:.1f}x a bare os.stat loop over them"
        )
        seconds, size = checksum_cost(rows, args.checksum_mb, folder)
        (w0, r0), (w1, r1) = seconds["none"], seconds["crc32c"]
        print(
            f"CRC32C checksum of each column block, {size / 1e6:.0f} MB: write {w1:.2f} s / "
            f"{w0:.2f} s without = {w1 / w0:.2f}x, read by column block {r1:.2f} s / "
            f"{r0:.2f} s = {r1 / r0:.2f}x"
        )
        chunk_rows = chunk_rows_for(rows.shape[1], 8)
        print(
            f"a kill -9 costs at most one chunk per writer: {chunk_rows} rows = "
            f"{chunk_rows * per_row:.0f} s at this run's rate, plus the restart"
        )


if __name__ == "__main__":
    main()
