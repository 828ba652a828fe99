"""crossrec: cross-domain recommender systems on a C++ core.

Only public names live here; see the modules for the implementations.
"""
from . import datasets, factorization, metrics, split
from .factorization import fold_in
from .data import IdMap, Interactions
from .evaluation import Gain, Report, evaluate
from .errors import CrossrecError, FitError, ModelFileError, NotFittedError, UnknownIdError
from .models.base import Recommender, load
from .models.baseline import Baseline, MostPopular, Random
from .models.mf import ALS, BPR, MF
from .topn import topn_from_factors, topn_from_scores
from . import transfer
from .transfer.domains import CrossDomain

__version__ = "0.1.0"

__all__ = [
    "ALS", "BPR", "MF", "factorization", "fold_in",
    "Baseline", "CrossDomain", "CrossrecError", "MostPopular", "Random", "FitError", "IdMap", "Interactions", "ModelFileError", "NotFittedError",
    "Recommender", "UnknownIdError", "load", "metrics", "topn_from_factors", "topn_from_scores", "transfer",
    "datasets", "split", "evaluate", "Report", "Gain",
]
