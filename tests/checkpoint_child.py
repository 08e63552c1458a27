"""A checkpointed fit that stops in the middle of writing a checkpoint (for test_checkpoint.py).

``python tests/checkpoint_child.py FOLDER EPOCH`` fits :func:`learner` to :func:`data` for
``NUM_EPOCHS`` epochs with a checkpoint after every epoch into ``FOLDER``. When it saves the
checkpoint of epoch ``EPOCH`` it writes the first half of the archive into the temporary file,
flushes it to disk, prints ``WRITING`` and waits forever, for the parent to kill
it with SIGKILL in the middle of ``save_checkpoint``. The parent imports this module for the
same learner and data.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading

import numpy as np
import optax

import pcdppl as pp

NUM_EPOCHS = 4
KEY = 7


def data() -> np.ndarray:
    """100 binary examples of 16 units."""
    return (np.random.default_rng(0).random((100, 16)) < 0.3).astype(np.int8)


def learner() -> pp.PCD:
    """A tiny RBM learner with an optimiser that has state (adam)."""
    return pp.PCD(pp.models.rbm(16, 4), num_chains=10, k=1, batch_size=10,
                  optimizer=optax.adam(0.02))


def main(folder: str, block_epoch: int) -> None:
    real_savez = np.savez

    def savez(file, **arrays):
        if json.loads(str(arrays["meta"]))["epoch"] != block_epoch:
            return real_savez(file, **arrays)
        buf = io.BytesIO()
        real_savez(buf, **arrays)
        raw = buf.getvalue()
        file.write(raw[: len(raw) // 2])
        file.flush()
        os.fsync(file.fileno())
        print("WRITING", flush=True)
        threading.Event().wait()  # until SIGKILL

    np.savez = savez  # the module save_checkpoint writes with (this process only)
    learner().fit(data(), NUM_EPOCHS, key=KEY, progress=False, checkpoint_dir=folder,
                  checkpoint_every=1)
    print("FINISHED", flush=True)  # not reached


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
