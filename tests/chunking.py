"""A spy in front of :func:`pcdppl.evaluate.log_sum_exp_states` (see the ``chunk_spy`` fixture
of conftest.py): forces small chunks and records how many chunks each enumeration used."""

from __future__ import annotations

import inspect
import math

from pcdppl.evaluate import exact, likelihood


class ChunkSpy:
    """Wraps ``log_sum_exp_states``: forces ``chunk_states`` states per chunk (if given) and
    records ``(what, total states, number of chunks)`` of every call.

    The number of chunks follows the documented rule: chunks of about ``chunk_elements`` units ×
    columns, i.e. ``chunk_elements // (units × columns)`` states (at least one)."""

    def __init__(self, chunk_states: int | None = None):
        self.orig = exact.log_sum_exp_states
        self.sig = inspect.signature(self.orig)
        self.chunk_states = chunk_states
        self.calls = []

    def __call__(self, *args, **kwargs):
        a = self.sig.bind(*args, **kwargs)
        a.apply_defaults()
        model, enum, cols = a.arguments["model"], a.arguments["enum"], a.arguments["num_columns"]
        units = sum(g.size for g in model.groups.values())
        if self.chunk_states is not None:
            a.arguments["chunk_elements"] = self.chunk_states * units * cols
        total = math.prod(model.groups[g].num_states ** model.groups[g].size for g in enum)
        chunk = max(1, min(total, a.arguments["chunk_elements"] // (units * cols)))
        self.calls.append((a.arguments["what"], total, -(-total // chunk)))
        return self.orig(*a.args, **a.kwargs)

    def chunks(self, what: str) -> list[int]:
        return [n for w, _, n in self.calls if w == what]


def install(monkeypatch, chunk_states=None) -> ChunkSpy:
    """Put a :class:`ChunkSpy` where log_partition and log_likelihood look
    ``log_sum_exp_states`` up (restored by ``monkeypatch`` after the test)."""
    s = ChunkSpy(chunk_states)
    monkeypatch.setattr(exact, "log_sum_exp_states", s)
    monkeypatch.setattr(likelihood, "log_sum_exp_states", s)
    return s
