"""Is the JarzynskiPCD negative phase unbiased when the chains lag? A check against enumeration.

Model: an RBM small enough to enumerate (default 10 visible × 5 hidden units: 2^10 visible
states, the hidden units summed analytically). Data: ``--patterns`` random 10-bit prototypes
with each bit flipped with probability ``--noise`` (a multimodal distribution, so the fitted
model has strong couplings and block-Gibbs chains move slowly between its modes).

Both learners take full-batch steps (``batch_size`` = the number of examples: one epoch is one
parameter update, so the script sees the chains after every update) with ``sgd(lr)``, ``k = 1``
block-Gibbs sweep per update and ``--chains`` persistent chains, for a few learning rates:
the larger the rate, the further the parameters move between two sweeps and the more plain
PCD chains lag behind the model.

* **JarzynskiPCD, weighted**: the learner's chains with their importance weights
  ``softmax(state.extra["ext"][0]["log_w"])`` (the chains start as exact draws of the units'
  biases with importance weights, i.e. weighted-exact for the initial model);
* **JarzynskiPCD, unweighted**: the same chains, weights ignored;
* **PCD-1**: a plain PCD fit (same data, rate, chains and seed; chains start uniformly
  random), against the expectations under its own parameters.

After every update and for every statistic of the negative phase as the gradient uses it
(Rao–Blackwellised over the hidden units: ``E[v]``, ``E[p(h=1|v)]``, ``E[v p(h=1|v)^T]``,
``10 + 5 + 50`` numbers) the script compares the chains' (weighted) average with the exact
expectation under the current parameters. The stated error of an average is
``sqrt(weighted variance / ESS)``, with ``ESS = 1 / Σ w²`` the weights' Kish effective sample
size (``C`` for uniform weights). It prints the fraction of (update, statistic) pairs within
2 and 3 standard errors (a Gaussian error bar that holds gives about 95.4 % and 99.7 %), the
median |z| (0.674 for a standard normal) and the mean absolute error of ``E[v h^T]``. For
JarzynskiPCD it also prints the mean ESS fraction of the weights before resampling
(``history["ess_fraction"]``), the fraction of updates that resampled, and the error of its
running ``log Z`` estimate (``history["log_z"]``) against the exact ``log Z``, with the
delta-method standard error of the current weights.

For reference the script also runs full-batch ascent on the *exact* gradient (negative phase
by enumeration) at the same rate, and prints every fit's final max |W| and exact training
log-likelihood.

Caveat built into the stated error: it treats the chains as independent. Right after a
resampling the weights are uniform (ESS = C) while some chains are copies of others, so the
error bar is optimistic when resampling is frequent (large learning rates).

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/jarzynski_equilibrium.py
    flock /tmp/pcdppl-bench.lock timeout 600 python benchmarks/jarzynski_equilibrium.py --quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp

FIT = {"progress": False, "record_every": 0, "mixing_warnings": False}


def make_data(nv: int, patterns: int, noise: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 2, (patterns, nv))
    x = protos[rng.integers(0, patterns, n)]
    return np.where(rng.random(x.shape) < noise, 1 - x, x).astype(np.int8)


def unpack(params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = jax.device_get(params)
    return tuple(np.asarray(p[k], np.float64) for k in ("W", "b_v", "b_h"))


def statistics(params, v: np.ndarray) -> np.ndarray:
    """Per-state negative-phase statistics ``(S, nv + nh + nv·nh)``: ``v``, ``p(h=1|v)`` and
    their outer product (the gradient's Rao–Blackwellised terms)."""
    W, _, bh = unpack(params)
    v = v.astype(np.float64)
    s = 1.0 / (1.0 + np.exp(-(bh + v @ W)))
    return np.concatenate([v, s, (v[:, :, None] * s[:, None, :]).reshape(len(v), -1)], axis=1)


def exact(params, nv: int) -> tuple[np.ndarray, float]:
    """Exact expectations of :func:`statistics` and ``log Z`` (visible states enumerated)."""
    W, bv, bh = unpack(params)
    V = ((np.arange(2 ** nv)[:, None] >> np.arange(nv)) & 1).astype(np.float64)
    logp = V @ bv + np.logaddexp(0.0, bh + V @ W).sum(1)  # -F(v)
    m = logp.max()
    p = np.exp(logp - m)
    log_z = float(m + np.log(p.sum()))
    return (p / p.sum()) @ statistics(params, V), log_z


def zscore(mean, se, ex):
    """``(mean - ex) / se``; a zero standard error (every chain agrees) gives 0 where the
    average is exact and infinity where it is not."""
    d = mean - ex
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, d / np.where(se > 0, se, 1.0), np.where(np.abs(d) < 1e-9, 0.0,
                                                                          np.inf))


def weighted(values: np.ndarray, log_w: np.ndarray | None):
    """``(mean, standard error, ESS)`` of per-chain values with log-weights (``None``: equal)."""
    C = len(values)
    w = np.full(C, 1.0 / C) if log_w is None else np.exp(log_w - log_w.max())
    w = w / w.sum()
    mean = w @ values
    var = w @ (values - mean) ** 2
    ess = 1.0 / np.sum(w ** 2)
    return mean, np.sqrt(var / ess), ess


def run(kind: str, model, data, nv, args, lr) -> dict:
    """Fit ``args.updates`` full-batch updates; per update, z-scores of every statistic."""
    opt = optax.sgd(lr)
    common = dict(num_chains=args.chains, k=1, batch_size=len(data), optimizer=opt)
    learner = (pp.JarzynskiPCD(model, resample_threshold=args.threshold, **common)
               if kind == "jarzynski" else pp.PCD(model, **common))
    out = {"z_w": [], "z_u": [], "err_w": [], "err_u": [], "ess": [], "lz_err": [],
           "lz_z": [], "resampled": [], "W": []}
    t0 = time.perf_counter()
    fit = None
    nstat = nv * (1 + args.hidden) + args.hidden
    for _ in range(args.updates):
        fit = (learner.fit(data, 1, key=args.seed, **FIT) if fit is None
               else learner.fit(data, 1, resume=fit, **FIT))
        ex, log_z = exact(fit.params, nv)
        vals = statistics(fit.params, fit.chains["v"])
        log_w = None
        if kind == "jarzynski":
            log_w = np.asarray(fit.state.extra["ext"][0]["log_w"], np.float64)
            mean, se, ess = weighted(vals, log_w)
            out["z_w"].append(zscore(mean, se, ex))
            out["err_w"].append(np.abs(mean - ex)[nv + args.hidden:].mean())
            out["ess"].append(float(fit.history["ess_fraction"][-1]))  # before resampling
            est = float(fit.history["log_z"][-1])
            w = np.exp(log_w - log_w.max())
            lz_se = np.std(w) / (np.sqrt(len(w)) * np.mean(w))  # delta method, this batch
            out["lz_err"].append(est - log_z)
            out["lz_z"].append(zscore(est, lz_se, log_z))
            out["resampled"].append(float(fit.history["resampled"][-1]))
        mean, se, _ = weighted(vals, None)
        out["z_u"].append(zscore(mean, se, ex))
        out["err_u"].append(np.abs(mean - ex)[nv + args.hidden:].mean())
        out["W"].append(float(np.abs(unpack(fit.params)[0]).max()))
    out["seconds"] = time.perf_counter() - t0
    out["train_ll"] = float(pp.evaluate.log_likelihood(model, fit.params, data))
    out = {k: np.asarray(v) for k, v in out.items()}
    assert out["z_u"].shape == (args.updates, nstat)
    return out


def exact_gradient_ascent(model, data, nv, lr, updates, seed) -> tuple[float, float]:
    """Reference: full-batch ascent on the exact log-likelihood gradient (the negative phase
    by enumeration), same rate, from the model's initialisation with the data's biases.
    Returns ``(max |W|, training log-likelihood)`` after ``updates`` steps."""
    p = {k: np.asarray(v, np.float64) for k, v in model.init_params(jax.random.key(seed)).items()}
    m = np.clip(data.mean(0), 1e-3, 1 - 1e-3)
    p["b_v"] = np.log(m / (1 - m))
    nh = p["b_h"].shape[0]
    pos = lambda q: statistics(q, data).mean(0)  # noqa: E731
    for _ in range(updates):
        g = pos(p) - exact(p, nv)[0]
        p = {"b_v": p["b_v"] + lr * g[:nv], "b_h": p["b_h"] + lr * g[nv:nv + nh],
             "W": p["W"] + lr * g[nv + nh:].reshape(nv, nh)}
    v = data.astype(np.float64)
    ll = np.mean(v @ p["b_v"] + np.logaddexp(0.0, p["b_h"] + v @ p["W"]).sum(1)) - exact(p, nv)[1]
    return float(np.abs(p["W"]).max()), float(ll)


def summary(z: np.ndarray, err: np.ndarray) -> dict:
    a = np.abs(np.nan_to_num(z, nan=np.inf))
    return {"within2": float(np.mean(a < 2)), "within3": float(np.mean(a < 3)),
            "median_z": float(np.median(a)), "err": float(np.mean(err))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="100 updates, learning rates 0.5 and 2 (about a minute)")
    ap.add_argument("--lrs", type=float, nargs="+", help="SGD learning rates "
                    "(default 0.25 0.5 1 2; quick 0.5 2)")
    ap.add_argument("--updates", type=int, help="parameter updates per fit (default 300, "
                    "quick 100)")
    ap.add_argument("--visible", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=5)
    ap.add_argument("--patterns", type=int, default=4, help="prototypes in the data")
    ap.add_argument("--noise", type=float, default=0.05, help="bit-flip probability")
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--chains", type=int, default=200, help="persistent chains")
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="JarzynskiPCD resample_threshold (ESS fraction)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "jarzynski_equilibrium")
    args = ap.parse_args()
    lrs = args.lrs or ([0.5, 2.0] if args.quick else [0.25, 0.5, 1.0, 2.0])
    args.updates = args.updates or (100 if args.quick else 300)
    if args.quick and args.out.name == "jarzynski_equilibrium":
        args.out = args.out.with_name("jarzynski_equilibrium_quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    nv = args.visible
    data = make_data(nv, args.patterns, args.noise, args.examples, args.seed)
    model = pp.models.rbm(nv, args.hidden)
    res = {}
    for lr in lrs:
        res[lr] = {"jarzynski": run("jarzynski", model, data, nv, args, lr),
                   "pcd": run("pcd", model, data, nv, args, lr),
                   "exact": exact_gradient_ascent(model, data, nv, lr, args.updates, args.seed)}
        j, p = res[lr]["jarzynski"], res[lr]["pcd"]
        print(f"lr {lr:g}: JarzynskiPCD {summary(j['z_w'], j['err_w'])['within2']:.3f} / "
              f"PCD-1 {summary(p['z_u'], p['err_u'])['within2']:.3f} within 2 SE "
              f"({j['seconds']:.1f} s / {p['seconds']:.1f} s)", flush=True)

    lines = ["(--quick configuration; shared 2-core machine, timings noisy)"] if args.quick else []
    lines += [f"RBM {nv}x{args.hidden}, {args.examples} examples ({args.patterns} prototypes, "
             f"bit noise {args.noise}), full-batch SGD, k=1 block Gibbs, {args.chains} chains, "
             f"{args.updates} updates, resample_threshold {args.threshold}; "
             f"{nv + args.hidden + nv * args.hidden} statistics per update; "
             f"jax {jax.__version__} on {jax.devices()[0].platform}", "",
             "Negative phase against the exact expectation under the current parameters, after "
             "every update (nominal for an honest Gaussian error bar: 0.954 within 2 SE, "
             "0.997 within 3 SE, median |z| 0.674):", ""]
    head = (f"{'lr':>5s} {'negative phase':26s} {'≤2 SE':>6s} {'≤3 SE':>6s} {'med|z|':>7s} "
            f"{'mean|err| E[vh]':>15s} {'ESS/C':>6s} {'resampled':>9s} {'max|W|':>6s} {'train LL':>8s}")
    lines += [head, "-" * len(head)]
    for lr, r in res.items():
        j, p = r["jarzynski"], r["pcd"]
        rows = [("JarzynskiPCD, weighted", summary(j["z_w"], j["err_w"]),
                 f"{j['ess'].mean():6.3f} {j['resampled'].mean():9.3f}", j["W"][-1],
                 j["train_ll"]),
                ("JarzynskiPCD, unweighted", summary(j["z_u"], j["err_u"]),
                 f"{'1':>6s} {'-':>9s}", j["W"][-1], j["train_ll"]),
                ("PCD-1 (plain chains)", summary(p["z_u"], p["err_u"]),
                 f"{'1':>6s} {'-':>9s}", p["W"][-1], p["train_ll"])]
        for name, s, extra, wmax, ll in rows:
            lines.append(f"{lr:5g} {name:26s} {s['within2']:6.3f} {s['within3']:6.3f} "
                         f"{s['median_z']:7.2f} {s['err']:15.4f} {extra} {wmax:6.2f} "
                         f"{ll:8.3f}")
        w_ex, ll_ex = r["exact"]
        lines.append(f"{lr:5g} {'exact gradient (reference)':26s} {'':6s} {'':6s} {'':7s} "
                     f"{'0':>15s} {'':6s} {'':9s} {w_ex:6.2f} {ll_ex:8.3f}")
        ratio = summary(p["z_u"], p["err_u"])["err"] / max(summary(j["z_w"], j["err_w"])["err"],
                                                           1e-12)
        lines.append(f"{'':5s} error ratio PCD-1 / JarzynskiPCD-weighted: {ratio:.2f}×; "
                     f"JarzynskiPCD log Z estimate - exact: mean {j['lz_err'].mean():+.4f}, "
                     f"mean |.| {np.abs(j['lz_err']).mean():.4f}, within 2 SE "
                     f"{np.mean(np.abs(j['lz_z']) < 2):.3f}; seconds {j['seconds']:.1f} "
                     f"(JarzynskiPCD) / {p['seconds']:.1f} (PCD-1), evaluation included")
    text = "\n".join(lines)
    print("\n" + text)
    args.out.with_suffix(".txt").write_text(text + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(lrs), figsize=(4.2 * len(lrs), 6), squeeze=False,
                             sharex=True)
    for c, lr in enumerate(lrs):
        j, p = res[lr]["jarzynski"], res[lr]["pcd"]
        t = np.arange(1, args.updates + 1)
        ax = axes[0, c]
        frac = lambda z: np.mean(np.abs(np.nan_to_num(z, nan=np.inf)) < 2, axis=1)  # noqa: E731
        ax.plot(t, frac(j["z_w"]), label="Jarzynski, weighted", color="C0")
        ax.plot(t, frac(j["z_u"]), label="Jarzynski, unweighted", alpha=0.7, color="C1")
        ax.plot(t, frac(p["z_u"]), label="PCD-1", alpha=0.7, color="C2")
        ax.axhline(0.954, color="k", lw=0.8, ls=":")
        ax.set(ylim=(0, 1.02), title=f"lr {lr:g}", ylabel="fraction within 2 SE")
        ax = axes[1, c]
        ax.plot(t, j["err_w"], label="Jarzynski, weighted", color="C0")
        ax.plot(t, p["err_u"], label="PCD-1", alpha=0.7, color="C2")
        ax.plot(t, j["ess"], label="Jarzynski ESS / C (before resampling)", color="grey", lw=0.8)
        ax.set(yscale="log", xlabel="update", ylabel="mean |error| of E[v h]")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    print(f"wrote {args.out.with_suffix('.txt')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
