"""Cross-domain transfer: aligned domain pairs, the cold-start protocol and transfer methods."""
from .domains import ColdStartSplit, CrossDomain

__all__ = ["ColdStartSplit", "CrossDomain"]
