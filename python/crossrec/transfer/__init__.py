"""Cross-domain transfer: aligned domain pairs, the cold-start protocol and transfer methods."""
from ._als import TransferALS
from .cmf import CMF
from .domains import ColdStartSplit, CrossDomain
from .finetune import FineTune
from .mapping import EMCDR

__all__ = ["CMF", "ColdStartSplit", "CrossDomain", "EMCDR", "FineTune", "TransferALS"]
