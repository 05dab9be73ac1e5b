"""Backends: the ~20 vector operations the core is written against.

A backend is a namespace of functions over *parameter vectors* (``Vec``): a 1-D ``numpy.ndarray``
for the numpy backend, a tuple of tensors for the torch backend (so an ``nn.Module``'s parameters
plug in without being copied into one flat vector). Core modules never import numpy or torch
for vector arithmetic; they call ``backend.vdot``, ``backend.axpy`` and friends.

Scalars returned by ``vdot``/``norm`` are backend scalars (a numpy float or a 0-d tensor that
may carry an autograd graph); ``backend.item`` turns one into a Python float.
"""

from __future__ import annotations

from ofmu_theory.backends.base import Backend, Scalar, Vec
from ofmu_theory.registry import Registry

BACKENDS: Registry[Backend] = Registry("backend")


def get_backend(name: str | Backend) -> Backend:
    """Return a backend by name ("numpy" or "torch"), or the backend itself."""
    if isinstance(name, Backend):
        return name
    return BACKENDS.get(name)


from ofmu_theory.backends import numpy_backend as _numpy_backend  # noqa: E402,F401
from ofmu_theory.backends import torch_backend as _torch_backend  # noqa: E402,F401

__all__ = ["BACKENDS", "Backend", "Scalar", "Vec", "get_backend"]
