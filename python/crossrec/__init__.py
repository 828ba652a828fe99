"""crossrec: cross-domain recommender systems on a C++ core.

Only public names live here; see the modules for the implementations.
"""

from . import datasets, factorization, io, itemsets, metrics, robustness, similarity, split, transfer
from .data import IdMap, Interactions
from .errors import CrossrecError, FallbackWarning, FitError, ModelFileError, NotFittedError, UnknownIdError
from .evaluation import Gain, Report, evaluate
from .factorization import fold_in
from .models.autoencoder import DenoisingAutoencoder
from .io import load
from .models.base import Recommender
from .models.baseline import Baseline, MostPopular, Random
from .models.coclustering import CoClustering
from .models.content import ContentBased
from .models.ease import EASE
from .models.hybrid import Hybrid
from .models.knn import ItemKNN, UserKNN
from .models.mf import ALS, BPR, MF
from .models.nmf import NMF
from .models.rules import AssociationRules
from .models.slope_one import SlopeOne
from .models.svdpp import SVDpp
from .itemsets import FrequentItemsets, association_rules, frequent_itemsets
from .topn import topn_from_factors, topn_from_scores
from .transfer.domains import CrossDomain

__version__ = "0.1.0"

__all__ = [
    "ALS",
    "AssociationRules",
    "BPR",
    "Baseline",
    "CoClustering",
    "ContentBased",
    "CrossDomain",
    "CrossrecError",
    "DenoisingAutoencoder",
    "EASE",
    "FallbackWarning",
    "FitError",
    "FrequentItemsets",
    "Gain",
    "Hybrid",
    "IdMap",
    "Interactions",
    "ItemKNN",
    "MF",
    "ModelFileError",
    "MostPopular",
    "NMF",
    "NotFittedError",
    "Random",
    "Recommender",
    "Report",
    "SVDpp",
    "SlopeOne",
    "UnknownIdError",
    "UserKNN",
    "association_rules",
    "datasets",
    "evaluate",
    "factorization",
    "fold_in",
    "frequent_itemsets",
    "io",
    "itemsets",
    "load",
    "metrics",
    "robustness",
    "similarity",
    "split",
    "topn_from_factors",
    "topn_from_scores",
    "transfer",
]
