"""ldcbook: the machinery behind the executable book on the Lethal Dose Conjecture.

Layers, each importing only its own and those before it (``tests/test_layers.py``):
:mod:`ldcbook.config` -> :mod:`ldcbook.theory` and :mod:`ldcbook.certify` (numpy,
scipy, sympy; no torch) -> data, partition, models, augment, neighbors,
neighbor_experiments -> ensemble -> store -> cli and experiments.
"""

from ldcbook.config import device, scale, seed_everything

__all__ = ["device", "scale", "seed_everything"]
__version__ = "0.1.0"
