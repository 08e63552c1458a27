"""rbms side of benchmarks/rbms_vs_pcdppl.py; runs inside rbms's own venv (PyTorch, CPU).

Reads a JSON config from argv[1]; prints one JSON line (the last line of stdout) with the
per-epoch timings and the checks, and writes the trained parameters to ``cfg["out"]``.

The training loop is the body of ``rbms.training.pcd.train`` (rbms 0.6.0), one iteration per
parameter update, without its progress bar and without its checkpoint branch (HDF5 saves and
metric display, which run only on checkpoint updates): draw a minibatch, zero the gradients,
``params.init_chains`` on the minibatch (the data's hidden magnetisations),
``sampler.get_conf_grad`` (the PCD chains' Gibbs steps), ``params.compute_gradient``, the
pre-gradient hooks, ``opt.step()``, the post-gradient hooks. Set-up follows
``rbms.scripts.train_rbm`` / ``rbms.training.implement._init_training``: chains drawn by
``params.init_chains`` and moved ``gibbs_steps`` Gibbs steps, the optimiser from
``rbms.optim.setup_optim``, the hooks from ``rbms.pre_grad.build_pre_grad_update``.
"""

import hashlib
import json
import sys
import time
from importlib.metadata import version

import numpy as np
import torch


def digest(a) -> str:
    """SHA-256 of an integer array's values (as int8, C order)."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a, np.int8)).tobytes()).hexdigest()


def load_data(cfg):
    """The full data array ``(N, n)`` (0/1 pixels or Potts states) and its variable type."""
    if cfg["kind"] == "potts":
        from rbms.dataset.load_fasta import load_FASTA

        data, _, _ = load_FASTA(cfg["data"], use_weights=False, alphabet="protein",
                                device="cpu")
        return np.asarray(data), "categorical"
    return np.load(cfg["data"]), "bernoulli"


def main(cfg):
    from rbms.bernoulli_bernoulli.classes import BBRBM
    from rbms.dataset.dataset_class import RBMDataset
    from rbms.optim import setup_optim
    from rbms.potts_bernoulli.classes import PBRBM
    from rbms.pre_grad import build_pre_grad_update
    from rbms.sampler import PCD

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    dtype, device = torch.float32, "cpu"

    data, variable_type = load_data(cfg)
    train = data[:cfg["num_train"]]
    dataset = RBMDataset(data=train.astype(np.float32), labels=-np.ones(len(train), np.int64),
                         weights=np.ones(len(train), np.float32), names=np.arange(len(train)),
                         dataset_name=cfg["data"], variable_type=variable_type,
                         device=device, dtype=dtype)

    init = np.load(cfg["init"])
    cls = PBRBM if cfg["kind"] == "potts" else BBRBM
    params = cls(weight_matrix=torch.from_numpy(init["W"]), vbias=torch.from_numpy(init["b_v"]),
                 hbias=torch.from_numpy(init["b_h"]), device=device, dtype=dtype)
    if cfg["kind"] == "potts":
        params.set_zero_sum_gauge()  # as PBRBM.init_parameters (the distribution is unchanged)

    # set-up as rbms.training.implement._init_training and rbms.scripts.train_rbm
    gibbs_steps = cfg["k"]
    chains = params.init_chains(num_samples=cfg["num_chains"])
    chains = params.sample_state(chains=chains, n_steps=gibbs_steps)
    optimizer = setup_optim("sgd", {"optim": "sgd", "learning_rate": cfg["lr"],
                                    "max_lr": cfg["lr"], "scale_lr": False,
                                    "mult_optim": False}, params)
    pre_grad_update = build_pre_grad_update(optimizer=optimizer, lambda_l1=0.0, lambda_l2=0.0,
                                            normalize_grad=False, max_grad_norm=-1)
    sampler = PCD(params=params, chains=chains, num_steps=gibbs_steps, beta=1.0)
    params.init_grad()
    centered = cfg["centered"]
    batch_size = cfg["batch_size"]
    updates_per_epoch = len(train) // batch_size

    wall, cpu, snapshots = [], [], []
    for _ in range(cfg["epochs"]):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(updates_per_epoch):
            # ---- the body of rbms.training.pcd.train, checkpoint branch excluded
            batch = dataset.batch(batch_size)
            data_b, weights = batch["data"], batch["weights"]
            for opt in optimizer:
                opt.zero_grad(set_to_none=False)
            curr_batch = params.init_chains(num_samples=data_b.shape[0], weights=weights,
                                            start_v=data_b)
            parallel_chains = sampler.get_conf_grad(batch=data_b)
            params.compute_gradient(data=curr_batch, chains=parallel_chains, centered=centered)
            pre_grad_update(input=None)
            params.pre_grad_update()
            sampler.pre_grad_update()
            for opt in optimizer:
                opt.step()
            params.post_grad_update()
            sampler.post_grad_update(params=params)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        if cfg.get("snapshots"):  # parameters after every epoch (not timed)
            snapshots.append([p.clone().numpy() for p in params.parameters()])

    # energies of the trained parameters on random states: checks the parameter mapping
    rng = np.random.default_rng(123)
    n_v, n_h = train.shape[1], init["b_h"].shape[0]
    hi = init["W"].shape[1] if cfg["kind"] == "potts" else 2
    v_chk = rng.integers(0, hi, (16, n_v))
    h_chk = rng.integers(0, 2, (16, n_h))
    e_chk = params.compute_energy(torch.from_numpy(v_chk).to(dtype),
                                  torch.from_numpy(h_chk).to(dtype)).numpy()

    named = params.named_parameters()
    np.savez(cfg["out"], W=named["weight_matrix"], b_v=named["vbias"], b_h=named["hbias"],
             chains=sampler.chains["visible"].numpy().astype(np.int8),
             **{f"{name}_{i}": a for i, snap in enumerate(snapshots)
                for name, a in zip(("W", "b_v", "b_h"), snap, strict=True)})
    print(json.dumps({
        "torch": torch.__version__, "rbms": version("rbms"),
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "wall_s": wall, "cpu_s": cpu, "updates_per_epoch": updates_per_epoch,
        "data_digest": digest(data), "data_shape": list(data.shape),
        "energy_check": {"v": v_chk.tolist(), "h": h_chk.tolist(), "E": e_chk.tolist()},
    }))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
