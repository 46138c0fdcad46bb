"""Fill an embedding store from a separate process (for the shard and kill tests).

``python -m tests.store_worker OUTPUT [--shard K/N] [--sleep SECONDS]``: embeds the
:func:`images` with :func:`embedder`; ``--sleep`` slows each forward pass down so that a test
can kill the process mid-run.
"""

import argparse
import logging
import os
import time

from tests.embed_helpers import TINY_LAYERS, TinyCNN, random_images, tiny_cnn

N_IMAGES = 22
CHUNK_ROWS = 2  # with BATCH_SIZE 2: 11 chunks
BATCH_SIZE = 2


class SleepyCNN(TinyCNN):
    """The tiny CNN, sleeping ``DKS_TEST_SLEEP`` seconds per forward pass."""

    def forward(self, x):
        time.sleep(float(os.environ.get("DKS_TEST_SLEEP", "0")))
        return super().forward(x)


def images():
    return random_images(N_IMAGES, size=(20, 24), seed=3)


def embedder(output, shard=None):
    """The embedder of every run of a test (same settings, so the same fingerprint)."""
    from dks import _config
    from dks.embed import CNNEmbedder

    _config.STORE_CHUNK_BYTES = CHUNK_ROWS * 15 * 4
    model = SleepyCNN()
    model.load_state_dict(tiny_cnn().state_dict())
    return CNNEmbedder(
        model.eval(),
        layers=TINY_LAYERS,
        crops="center",
        resize=16,
        crop_size=16,
        batch_size=BATCH_SIZE,
        num_workers=0,
        progress=False,
        output=output,
        shard=shard,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--shard", default=None)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    os.environ["DKS_TEST_SLEEP"] = str(args.sleep)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder(args.output, args.shard).fit_transform(images())


if __name__ == "__main__":
    main()
