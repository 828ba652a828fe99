"""Cross-domain transfer: aligned domain pairs, the cold-start protocol and transfer methods.

``run(pair, ...)`` evaluates methods under the cold-start protocol; see :mod:`crossrec.transfer.run`.
"""

from . import presets
from .deprecated import TransferALS
from .auto import Auto
from .base import TransferRecommender
from .baselines import NoTransfer
from .cmf import CMF
from .consensus import ConsensusCMF
from .diagnostics import Diagnosis, diagnose, linear_cka
from .distill import Distill
from .domains import ColdStartSplit, CrossDomain
from .finetune import FineTune
from .content import CrossDomainContent
from .knn import CrossDomainKNN
from .mapping import EMCDR
from .personalized import PTUPCDR
from .rules import CrossDomainRules
from .sparse_distill import SparseDistill
from .run import Method, TransferResult, default_methods, learning_curve, run

__all__ = [
    "Auto",
    "CMF",
    "ColdStartSplit",
    "ConsensusCMF",
    "CrossDomainContent",
    "CrossDomainKNN",
    "CrossDomainRules",
    "CrossDomain",
    "Diagnosis",
    "Distill",
    "EMCDR",
    "FineTune",
    "Method",
    "NoTransfer",
    "PTUPCDR",
    "TransferALS",
    "TransferRecommender",
    "TransferResult",
    "default_methods",
    "diagnose",
    "learning_curve",
    "linear_cka",
    "presets",
    "run",
    "SparseDistill",
]
