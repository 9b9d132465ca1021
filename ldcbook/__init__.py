"""ldcbook: the machinery behind the executable book on the Lethal Dose Conjecture.

Layers, each importing only its own and those before it (``tests/test_layers.py``):
:mod:`ldcbook.config` -> :mod:`ldcbook.theory` and :mod:`ldcbook.certify` (numpy,
scipy, sympy; no torch) -> data, partition, classifier, models, augment, neighbors,
neighbor_experiments -> ensemble -> store -> cli and experiments.

The package root is layer 0, yet it offers ``ldcbook.PartitionClassifier`` (any
scikit-learn classifier as a DPA/FA/ROE defence, :mod:`ldcbook.classifier`): the
name is imported lazily, on first access, by the module ``__getattr__`` (PEP 562), so
``import ldcbook`` loads neither scikit-learn nor a later layer.
"""

from typing import Any

from ldcbook.config import device, scale, seed_everything

__all__ = ["PartitionClassifier", "device", "scale", "seed_everything"]
__version__ = "0.1.0"

_LAZY = {"PartitionClassifier": "ldcbook.classifier"}
"""Public names of later layers, re-exported lazily: name -> module."""


def __getattr__(name: str) -> Any:
    if name == "PartitionClassifier":
        from ldcbook.classifier import PartitionClassifier

        return PartitionClassifier
    raise AttributeError(f"module 'ldcbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
