"""``python -m tests.cli_worker ARGS...``: the ``dks`` command line with test settings.

For the tests that kill ``dks embed`` or run shards in separate processes: chunks of
:data:`CHUNK_ROWS` rows (so that tiny inputs make several chunks), ``DKS_TEST_SLEEP``
seconds of sleep per batch (so that a test can kill the process mid-run), and
``DKS_TEST_GATE``: a file whose existence the first batch waits for (so that a test holds
the process mid-run for as long as it needs, then lets it finish at full speed). Everything
else is ``python -m dks.cli ARGS...``.
"""

import os
import sys
import time

CHUNK_ROWS = 2  # with --batch-size 2: one batch per chunk
N_FEATURES = 3120  # EfficientNet-Lite0's "paper" layers


def main():
    from dks import _config
    from dks.cli import main as cli_main
    from dks.embed._hooks import LayerRecorder

    _config.STORE_CHUNK_BYTES = CHUNK_ROWS * N_FEATURES * 4
    delay = float(os.environ.get("DKS_TEST_SLEEP", "0"))
    gate = os.environ.get("DKS_TEST_GATE")
    if delay or gate:
        embed_batch = LayerRecorder.embed_batch

        def slow(self, *args, **kwargs):
            time.sleep(delay)
            deadline = time.monotonic() + 300
            while gate and not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
            return embed_batch(self, *args, **kwargs)

        LayerRecorder.embed_batch = slow
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
