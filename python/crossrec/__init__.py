"""crossrec: cross-domain recommender systems on a C++ core.

Only public names live here; see the modules for the implementations.
"""
from . import datasets, factorization, metrics, similarity, split
from .factorization import fold_in
from .data import IdMap, Interactions
from .evaluation import Gain, Report, evaluate
from .errors import CrossrecError, FitError, ModelFileError, NotFittedError, UnknownIdError
from .models.base import Recommender, load
from .models.baseline import Baseline, MostPopular, Random
from .models.autoencoder import DenoisingAutoencoder
from .models.content import ContentBased
from .models.ease import EASE
from .models.hybrid import Hybrid
from . import robustness
from .models.knn import ItemKNN, UserKNN
from .models.mf import ALS, BPR, MF
from .models.rules import AssociationRules
from .rules import FrequentItemsets, association_rules, frequent_itemsets
from .topn import topn_from_factors, topn_from_scores
from . import transfer
from .transfer.domains import CrossDomain

__version__ = "0.1.0"

__all__ = [
    "Baseline", "ContentBased", "CrossrecError", "DenoisingAutoencoder", "EASE", "Hybrid", "robustness", "MostPopular", "Random", "FitError", "IdMap", "Interactions", "ModelFileError", "NotFittedError",
    "ALS", "BPR", "MF", "factorization", "fold_in",
    "Recommender", "UnknownIdError", "load", "metrics", "topn_from_factors", "topn_from_scores",
    "CrossDomain", "transfer",
    "datasets", "split", "evaluate", "Report", "Gain",
    "ItemKNN", "UserKNN", "similarity",
    "AssociationRules", "FrequentItemsets", "association_rules", "frequent_itemsets",
]
