"""The house rules of ../shared/DESIGN.md, checked on the code itself.

* no import cycles between pcdppl modules (imports inside functions count);
* no module uses another module's underscored names;
* no module over 450 lines; no ``jax.core``; compile tuning only in ``pcdppl/_compile``;
* the graph structure reaches compiled programs as an argument: program text does not grow
  with the graph, and nothing keeps a model alive after use.
"""

from __future__ import annotations

import ast
import gc
import weakref
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp
from pcdppl.evaluate.ais import anneal_log_weights, base_name, extended_model

ROOT = Path(pp.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(ROOT.rglob("*.py")):
        rel = f.relative_to(ROOT.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_edges() -> dict[str, set[str]]:
    """Module -> the pcdppl modules it imports anywhere in its body."""
    edges = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text())
        pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, node, pkg)
                for a in node.names:
                    full = f"{base}.{a.name}"
                    targets.append(full if full in MODULES else base)
            for t in targets:
                if t in MODULES and t != mod:
                    edges[mod].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    found = cycles(import_edges())
    assert not found, f"import cycles between pcdppl modules: {found}"


def test_cycle_check_has_power():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


NAMEDTUPLE = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
PRIVATE_PACKAGES = {p.name for p in ROOT.iterdir() if p.name.startswith("_") and
                    not p.name.startswith("__")}


def private_crossings(path: Path) -> list[str]:
    """Uses of another module's underscored names in one file: imported private names, and
    ``obj._name`` where ``obj`` is not self/cls/super() and ``_name`` is not defined here."""
    tree = ast.parse(path.read_text())
    own = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(n.name)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            own.add(n.id)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            own.add(n.attr)
        elif isinstance(n, ast.arg):
            own.add(n.arg)
    hits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and (n.level > 0 or (n.module or "").startswith("pcdppl")):
            for a in n.names:
                if a.name.startswith("_") and not a.name.startswith("__") \
                        and a.name not in PRIVATE_PACKAGES:
                    hits.append(f"{path.name}:{n.lineno}: import {a.name}")
        if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__"):
            v = n.value
            if isinstance(v, ast.Name) and v.id in ("self", "cls"):
                continue
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
                continue
            if n.attr in own or n.attr in NAMEDTUPLE:
                continue
            hits.append(f"{path.parent.name}/{path.name}:{n.lineno}: .{n.attr}")
    return hits


def test_no_private_crossings():
    hits = [h for f in MODULES.values() for h in private_crossings(f)]
    assert not hits, "\n".join(hits)


def test_private_crossing_check_has_power(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .model import _secret\n\n\ndef f(m):\n    return m._local_b(1)\n")
    assert len(private_crossings(bad)) == 2


def test_no_module_over_450_lines_and_no_jax_core():
    long = {str(f.relative_to(ROOT)): n for f in MODULES.values()
            if (n := len(f.read_text().splitlines())) > 450}
    assert not long, f"modules over 450 lines: {long}"
    for f in MODULES.values():
        text = f.read_text()
        assert "jax.core" not in text and "_cache_size" not in text, f


def code_words(path: Path) -> set[str]:
    """Names, attributes, keyword names and non-docstring strings used in a module's code."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.value) for n in ast.walk(tree)
                  if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    words = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            words.add(n.id)
        elif isinstance(n, ast.Attribute):
            words.add(n.attr)
            if isinstance(n.value, ast.Name):
                words.add(f"{n.value.id}.{n.attr}")
        elif isinstance(n, ast.keyword) and n.arg:
            words.add(n.arg)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings:
            words.add(n.value)
    return words


TUNING = {"compiler_options", "xla_backend_optimization_level", "xla_cpu_prefer_vector_width",
          "xla_cpu_experimental_ynn_fusion_type", "xla_cpu_multi_thread_eigen",
          "jax_threefry_partitionable", "threefry2x32", "serialize_executable",
          "gc.disable", "gc_paused", "host_rng"}


def test_compile_tuning_lives_in_one_private_package():
    for mod, f in MODULES.items():
        if not mod.startswith("pcdppl._compile"):
            found = TUNING & code_words(f)
            assert not found, f"{f.relative_to(ROOT)} uses {sorted(found)}"


def test_compile_tuning_check_has_power(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""compiler_options in a docstring is fine."""\nimport gc\n\n\n'
                   'def f(jit):\n    gc.disable()\n    return jit(compiler_options={})\n')
    assert TUNING & code_words(bad) == {"gc.disable", "compiler_options"}


# --------------------------------------------------------------------- structure as argument
def _program_text(n: int) -> dict[str, int]:
    model = pp.models.ising((n, n))
    params = model.init_params(0)
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(0, params, 2)
    key = jax.random.key(1)
    out = {"step": jax.jit(lambda s, k, p, x: s.step(k, p, x)).lower(sampler, key, params, state)}
    bparams = model.blocked.params(params)

    def bp_iteration(m, bpar):
        pot = pp.bp.potentials(m, bpar)
        msgs = pp.bp.init_messages(m, 2)
        return pp.bp.iterate(m, pot, msgs, 2, 1)

    out["bp"] = jax.jit(bp_iteration).lower(model, bparams)
    ext = extended_model(model, ("s",))
    base = {base_name(model, "s"): np.zeros(model.groups["s"].size, np.float32)}
    anneal = jax.jit(lambda m, s, p, b, k: anneal_log_weights(
        m, s, p, b, jax.numpy.linspace(0.0, 1.0, 5), k, num_chains=4))
    out["ais"] = anneal.lower(model, pp.samplers.BlockGibbs(ext), params, base, key)
    return {k: len(v.as_text()) for k, v in out.items()}


def test_program_text_does_not_grow_with_the_graph():
    small, large = _program_text(16), _program_text(128)  # 64x the units
    for k in small:
        assert large[k] < 1.2 * small[k], (k, small[k], large[k])


def test_nothing_keeps_a_model_alive():
    rng = np.random.default_rng(0)
    data = (rng.random((40, 6)) < 0.4).astype(np.int8)

    def use():
        model = pp.models.rbm(6, 3)
        params = model.init_params(0)
        sampler = pp.samplers.Metropolis(model)
        st = sampler.init(0, params, 4)
        sampler.step(1, params, st)
        pp.sample(0, model, params, num_chains=2, num_samples=3)
        pp.PCD(model, num_chains=8, batch_size=20, optimizer=optax.sgd(0.1)).fit(
            data, 1, progress=False, mixing_warnings=False)
        pp.evaluate.log_partition(model, params)
        pp.evaluate.ais(model, params, 0, num_chains=4, betas=5)
        pp.bp.BeliefPropagation(model).run(params)
        return weakref.ref(model)

    ref = use()
    gc.collect()
    assert ref() is None, "a cache keeps the model alive"


def test_an_option_xla_does_not_know_is_dropped_not_fatal(monkeypatch):
    """A newer jaxlib may drop the experimental YNNPACK option: the program then compiles
    without it (once refused, never passed again) instead of failing."""
    from pcdppl._compile import options

    if jax.default_backend() != "cpu":
        return
    fake = "xla_cpu_option_that_does_not_exist"
    monkeypatch.setattr(options, "NO_YNN", fake)
    monkeypatch.setattr(options, "_supported", {fake: True})
    prog = options.Program(lambda x: x * 3)
    assert fake in options.compiler_options()
    np.testing.assert_array_equal(np.asarray(prog(np.ones(3, np.float32))), 3.0)
    assert options._supported[fake] is False
    assert fake not in options.compiler_options()
