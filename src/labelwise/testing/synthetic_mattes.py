"""Procedural alpha mattes with exactly known truth, for the matting experiments: the generator now lives in the
library (:mod:`labelwise.assign.procedural_mattes`, so that ``labelwise convert train-converter --synthetic N`` can
use it); this module keeps the names tests and benchmarks import."""

from labelwise.assign.procedural_mattes import (  # noqa: F401
    MatteSet,
    background,
    coarse_alpha,
    composite,
    fine_alpha,
    synthetic_mattes,
)

__all__ = ["MatteSet", "background", "coarse_alpha", "composite", "fine_alpha", "synthetic_mattes"]
