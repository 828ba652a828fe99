"""Cross-domain transfer: aligned domain pairs, the cold-start protocol and transfer methods.

``run(pair, ...)`` evaluates methods under the cold-start protocol; see :mod:`crossrec.transfer.run`.
"""
from ._als import TransferALS
from .cmf import CMF
from .domains import ColdStartSplit, CrossDomain
from .finetune import FineTune
from .mapping import EMCDR
from .run import Method, TransferResult, default_methods, run

__all__ = ["CMF", "ColdStartSplit", "CrossDomain", "EMCDR", "FineTune", "Method", "TransferALS",
           "TransferResult", "default_methods", "run"]
