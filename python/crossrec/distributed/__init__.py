"""crossrec on a Dask cluster: the same C++ kernels inside Dask tasks (optional extra ``dask``).

Inside a ``dask.distributed.Client``::

    import crossrec.distributed as crd
    model = crd.ALS(factors=64).fit(data)        # Interactions, Dask DataFrame, Parquet path or crd.Blocks
    model.recommend(users, n=10); model.save("m.crossrec")    # a crossrec.ALS in every respect
    crd.recommend_all(model, n=10, path="recs/")              # Parquet, one row per user

See :mod:`crossrec.distributed.engine` for how a half-step is spread over the workers.
"""

try:
    import distributed as _distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "crossrec.distributed needs Dask: pip install 'crossrec[dask]' (dask[distributed,dataframe], pyarrow)"
    ) from exc

from ._cluster import WorkerMemoryError
from .als import DistributedALS as ALS
from .batch import evaluate, item_similarity, recommend_all
from .transfer import DistributedCMF as CMF
from .transfer import DistributedFineTune as FineTune
from .blocks import Block, Blocks, as_blocks, from_dask_dataframe, from_interactions, from_scipy, read_csv, read_parquet

__all__ = [
    "ALS",
    "Block",
    "Blocks",
    "CMF",
    "FineTune",
    "WorkerMemoryError",
    "as_blocks",
    "evaluate",
    "item_similarity",
    "recommend_all",
    "from_dask_dataframe",
    "from_interactions",
    "from_scipy",
    "read_csv",
    "read_parquet",
]
