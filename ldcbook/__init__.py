"""ldcbook: the machinery behind the executable book on the Lethal Dose Conjecture.

Layers, each importing only those before it: :mod:`ldcbook.config` ->
:mod:`ldcbook.theory` and :mod:`ldcbook.certify` (numpy, scipy, sympy) ->
data, partition, models, augment -> ensemble -> store -> cli.
"""

from ldcbook.config import device, scale, seed_everything

__all__ = ["device", "scale", "seed_everything"]
__version__ = "0.1.0"
