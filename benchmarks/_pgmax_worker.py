"""PGMax side of benchmarks/pmp_vs_pgmax.py; runs inside PGMax's own venv (jax 0.4.30).

Reads a JSON config from argv[1], prints one JSON line with timings and samples.
"""

import json
import sys
import time

import jax
import numpy as np
from pgmax import fgraph, fgroup, infer, vgroup


def main(cfg):
    L, beta, iters = cfg["L"], cfg["beta"], cfg["num_iters"]
    damping, n = cfg["damping"], cfg["num_samples"]
    variables = vgroup.NDVarArray(num_states=2, shape=(L, L))
    fg = fgraph.FactorGraph(variable_groups=variables)
    pairs = []
    for i in range(L):
        for j in range(L):
            pairs.append([variables[i, j], variables[(i + 1) % L, j]])
            pairs.append([variables[i, j], variables[i, (j + 1) % L]])
    fg.add_factors(fgroup.PairwiseFactorGroup(
        variables_for_factors=pairs,
        log_potential_matrix=beta * np.array([[1.0, -1.0], [-1.0, 1.0]])))
    bp = infer.build_inferer(fg.bp_state, backend="bp")

    def sample(noise):  # noise: (n, L, L, 2) Gumbel
        arrays = jax.vmap(lambda e: bp.init(evidence_updates={variables: e}))(noise)
        arrays = jax.vmap(lambda a: bp.run(a, num_iters=iters, damping=damping,
                                           temperature=0.0))(arrays)
        beliefs = jax.vmap(bp.get_beliefs)(arrays)
        return infer.decode_map_states(beliefs)[variables]

    sample = jax.jit(sample)
    shared = np.load(cfg["noise_file"]).astype(np.float32)
    t0 = time.perf_counter()
    shared_states = np.asarray(sample(shared))  # compile + first call
    t_compile = time.perf_counter() - t0
    rng = np.random.default_rng(cfg["seed"])
    times, states = [], []
    for _ in range(cfg["repeats"]):
        noise = rng.gumbel(size=(n, L, L, 2)).astype(np.float32)
        t0 = time.perf_counter()
        s = jax.block_until_ready(sample(noise))
        times.append(time.perf_counter() - t0)
        states.append(np.asarray(s))
    print(json.dumps({
        "jax": jax.__version__, "first_call_s": t_compile, "times_s": times,
        "shared_states": shared_states.reshape(n, -1).tolist(),
        "states": np.concatenate(states).reshape(-1, L * L).tolist(),
    }))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
