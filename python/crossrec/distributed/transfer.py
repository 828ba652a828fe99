"""Transfer on a Dask cluster: fine-tuning (``crossrec.distributed.FineTune``) and collective
factorisation (``crossrec.distributed.CMF``).

FineTune's prior pull is one term per user row, so it distributes exactly as ALS does: the
single-machine method's orchestration (source fit, starting rows, prior weights, cold users) runs
unchanged, with its ALS fits running on the cluster (:class:`DistributedALS`).
"""

from __future__ import annotations

from typing import Any, Optional

from ..models.base import Recommender
from ..models.mf import ALS as LocalALS
from ..transfer.finetune import FineTune as LocalFineTune
from .als import DistributedALS, fitted_state, local_twin_of


def on_cluster(model: Optional[Recommender], n_blocks, exchange, client, who: str) -> Optional[Recommender]:
    """The model whose fit runs on the cluster: a crossrec.ALS becomes a DistributedALS with the
    same parameters; a fitted model or a DistributedALS is used as it is."""
    if model is None or isinstance(model, DistributedALS) or getattr(model, "is_fitted", False):
        return model
    if type(model) is LocalALS:
        return DistributedALS(**model.get_params(), n_blocks=n_blocks, exchange=exchange, client=client)
    raise ValueError(
        f"{who} fits crossrec.ALS models on the cluster; got an unfitted {type(model).__name__} "
        "(fit it first, or use crossrec.ALS)"
    )


class DistributedFineTune(LocalFineTune):
    """:class:`crossrec.transfer.FineTune` with its ALS fits on a Dask cluster; exported as
    ``crossrec.distributed.FineTune``.

    Parameters as FineTune (``model``: an unfitted crossrec.ALS or crossrec.distributed.ALS,
    default ``crossrec.distributed.ALS()``; ``source_model``: likewise, or fitted), plus
    ``n_blocks``, ``exchange`` and ``client`` as in :class:`crossrec.distributed.ALS`. The fitted
    model scores like FineTune; ``save`` writes the single-machine FineTune.
    """

    def __init__(
        self,
        model: Optional[Recommender] = None,
        source_model: Optional[Recommender] = None,
        pull: float = 1.0,
        n_blocks: Optional[int] = None,
        exchange: str = "auto",
        client: Any = None,
    ):
        super().__init__(model=model, source_model=source_model, pull=pull)
        self.n_blocks = n_blocks
        self.exchange = exchange
        self.client = client

    def fit(self, pair) -> "DistributedFineTune":
        args = (self.n_blocks, self.exchange, self.client, "crossrec.distributed.FineTune")
        base = on_cluster(self.model, *args) or DistributedALS(
            n_blocks=self.n_blocks, exchange=self.exchange, client=self.client
        )
        inner = LocalFineTune(model=base, source_model=on_cluster(self.source_model, *args), pull=self.pull)
        inner.fit(pair)
        for k, v in fitted_state(inner).items():
            setattr(self, k, v)
        return self

    def to_local(self) -> LocalFineTune:
        """The fitted single-machine FineTune (parameters and state; models as crossrec.ALS)."""
        return local_twin_of(self, LocalFineTune)

    def save(self, path) -> None:
        """Saves the single-machine FineTune (:meth:`to_local`): the file loads without Dask."""
        self.to_local().save(path)
