"""Immutable configuration objects: samplers and learners.

A :class:`Frozen` object is configured once, by its constructor; assigning an attribute
afterwards raises, and :meth:`Frozen.replace` builds a changed copy by calling the constructor
again with the original arguments updated. Objects that compile programs can therefore cache
them per configuration: a changed setting always gets its own program.

Subclasses write an ordinary ``__init__``. Keyword arguments named in ``BASE_KWARGS`` (e.g.
``mesh``/``devices``) are accepted by every subclass's constructor and handed to
``_configure_base`` after the constructor ran; ``ALIASES`` maps deprecated keyword names to
their new names (a ``DeprecationWarning`` says so, and the object records the new name).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

_BUILDING = "_frozen_building"


def _wrap_init(init: Callable, base_kwargs: tuple[str, ...]) -> Callable:
    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        outer = not self.__dict__.get(_BUILDING, False)
        if outer:
            for old, new in type(self).ALIASES.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"give {new}= (or its old name {old}=), not both")
                    warnings.warn(f"{type(self).__name__}({old}=...) is renamed {new}=...",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
        popped = {k: kwargs.pop(k) for k in base_kwargs if k in kwargs}
        if outer:
            object.__setattr__(self, _BUILDING, True)
        try:
            init(self, *args, **kwargs)
        finally:
            if outer:
                del self.__dict__[_BUILDING]
        if outer:
            object.__setattr__(self, "_init_args", (args, kwargs, popped))
            self._configure_base(**popped)
            self._check_config()
            object.__setattr__(self, "_frozen", True)
        elif popped:
            raise TypeError(f"{sorted(popped)} go to the outermost constructor only")

    return wrapped


class Frozen:
    """Base class of immutable configuration objects (see the module docstring)."""

    __immutable__ = True  # compiled programs may flatten an instance once (_compile.options)
    BASE_KWARGS: tuple[str, ...] = ()
    ALIASES: dict[str, str] = {}
    _frozen = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _wrap_init(cls.__dict__["__init__"], cls.BASE_KWARGS)

    def __setattr__(self, name, value):
        if self.__dict__.get("_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable: use "
                                 f".replace({name}=...) for a copy with another {name}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _configure_base(self, **base_kwargs) -> None:
        """Apply the ``BASE_KWARGS`` given to the constructor (subclasses of a base that
        declares some override this)."""

    def _check_config(self) -> None:
        """Called once the outermost constructor finished (validation hook)."""

    def settings(self) -> dict:
        """The constructor arguments this object was built with, by name."""
        args, kwargs, popped = self._init_args
        bound = inspect.signature(type(self).__init__).bind(None, *args, **kwargs)
        out = {k: v for k, v in bound.arguments.items() if k != next(iter(bound.signature.parameters))}
        return {**out, **popped}

    def replace(self, **changes):
        """A copy built with the same constructor arguments except ``changes``."""
        args, kwargs, popped = self._init_args
        sig = inspect.signature(type(self).__init__)
        bound = sig.bind(None, *args, **kwargs)
        named = {n for n, p in sig.parameters.items()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        has_var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        base = dict(popped)
        for k, v in changes.items():
            if k in self.BASE_KWARGS:
                base = {kk: vv for kk, vv in base.items() if kk not in self.BASE_KWARGS}
                base[k] = v
            elif k in named:
                bound.arguments[k] = v
            elif has_var_kw:
                var = next(n for n, p in sig.parameters.items() if p.kind == p.VAR_KEYWORD)
                bound.arguments.setdefault(var, {})[k] = v
            else:
                known = sorted((named - {next(iter(sig.parameters))}) | set(self.BASE_KWARGS))
                raise TypeError(f"{type(self).__name__} has no setting {k!r}; its settings "
                                f"are {known}")
        return type(self)(*bound.args[1:], **bound.kwargs, **base)
