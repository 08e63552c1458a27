"""Multi-host data parallelism with ``jax.distributed``, run as several processes on one machine.

Every process runs the *same* program. On a cluster you start one process per host (for
example with ``srun`` or ``mpirun``) and each calls::

    jax.distributed.initialize(coordinator_address="host0:1234",
                               num_processes=N, process_id=i)

before touching any array; ``jax.devices()`` then lists the devices of all processes and
``devices="all"`` shards the chains over every one of them. Here the processes are started
by this script on the local machine, each with 2 forced CPU devices, talking through
JAX's CPU collectives (gloo). The learned parameters and the samples are compared with a
single-process run of the same seeds.

Usage::

    python examples/multihost.py                  # 2 processes x 2 CPU devices
    python examples/multihost.py --processes 4 --local-devices 1
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np

NUM_CHAINS, BATCH, EPOCHS, SAMPLES = 64, 32, 3, 20


def problem():
    """The model and data every process builds identically."""
    import pcdppl as pp

    model = pp.models.rbm(n_visible=36, n_hidden=12)
    rng = np.random.default_rng(0)
    protos = rng.random((4, 36)) < 0.5
    data = protos[rng.integers(0, 4, 512)] ^ (rng.random((512, 36)) < 0.05)
    return model, data.astype(np.int8)


def run(devices):
    """PCD fit and pp.sample over ``devices`` (None: one device); returns numpy results."""
    import optax
    from jax.experimental import multihost_utils

    import pcdppl as pp

    model, data = problem()
    learner = pp.PCD(model, num_chains=NUM_CHAINS, batch_size=BATCH, k=1,
                     optimizer=optax.sgd(0.05), devices=devices)
    fit = learner.fit(data, num_epochs=EPOCHS, key=0, progress=False)
    draws = pp.sample(1, model, fit.params, num_chains=NUM_CHAINS, num_samples=SAMPLES,
                      num_warmup=5, devices=devices)
    out = {f"param_{k}": v for k, v in fit.params.items()}
    out["chains_v"] = fit.chains["v"]
    out["draws_v"] = draws["v"]
    out["free_energy_gap"] = fit.history["free_energy_gap"]
    # Sharded arrays span processes: gather them (parameters are replicated already).
    return {k: np.asarray(v if isinstance(v, np.ndarray)
                          else multihost_utils.process_allgather(v, tiled=True))
            for k, v in out.items()}


def worker(args) -> None:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + f" --xla_force_host_platform_device_count={args.local_devices}")
    import jax

    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.processes, process_id=args.process_id)
    assert jax.process_count() == args.processes
    print(f"process {jax.process_index()}/{jax.process_count()}: "
          f"{jax.local_device_count()} local of {jax.device_count()} devices", flush=True)
    result = run("all")
    if jax.process_index() == 0:
        np.savez(args.out, **result)
    jax.distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args) -> int:
    coordinator = f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.npz")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("XLA_FLAGS", None)
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--process-id", str(i),
                                   "--processes", str(args.processes), "--local-devices",
                                   str(args.local_devices), "--coordinator", coordinator,
                                   "--out", out], env=env)
                 for i in range(args.processes)]
        try:
            codes = [p.wait(timeout=args.timeout) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        if any(codes):
            print(f"worker exit codes {codes}", file=sys.stderr)
            return 1
        sharded = dict(np.load(out))
    import jax

    jax.config.update("jax_platforms", "cpu")
    single = run(None)
    worst = 0.0
    for k in single:
        if k.startswith("param_") or k == "free_energy_gap":
            err = float(np.max(np.abs(single[k] - sharded[k])))
            worst = max(worst, err)
            print(f"{k:18s} max |single - multi-host| = {err:.2e}")
        else:
            same = float(np.mean(single[k] == sharded[k]))
            print(f"{k:18s} fraction of identical units = {same:.4f}")
    ok = worst < 1e-4
    print("multi-host run agrees with the single-process run" if ok else "MISMATCH")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--local-devices", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--coordinator", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
