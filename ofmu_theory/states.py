"""The registry of solver and transform state types: the only classes a checkpoint may rebuild.

A solver's state is a small named tuple (θ, k, the draw counter, transform moments); each such class
registers itself here at its definition (``@STATES.register("ofmu_state")``). A checkpoint stores a
state's structure by these registry names, and reading one constructs only registered classes — never a
class or callable named by a path in the file (that would let a crafted file run code).
"""

from __future__ import annotations

from ofmu_theory.registry import Registry

STATES: Registry[type] = Registry("state type")
