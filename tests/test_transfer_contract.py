"""The transfer contract (tests/contract.py) on every transfer model, explicit and implicit."""

from functools import lru_cache

from contract import TransferContract, small_pair

import crossrec as cr
from crossrec.transfer import CMF, EMCDR, Auto, ConsensusCMF, Distill, FineTune, NoTransfer, TransferALS

ALS = dict(factors=4, iterations=3)


def als(explicit, n_threads=0):
    return TransferALS(**ALS, regularization=0.1 if explicit else 1.0, n_threads=n_threads)


class TestFineTune(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return FineTune(als(True, n_threads), pull=1.0)


class TestFineTuneImplicit(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return FineTune(als(False, n_threads), pull=1.0)


class TestCMF(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return CMF(**ALS, weights=(0.5, 1.0), n_threads=n_threads)


class TestCMFImplicit(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return CMF(**ALS, regularization=1.0, weights=(1.0, 1.0), n_threads=n_threads)


class TestEMCDR(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return EMCDR(als(True, n_threads), als(True, n_threads), l2=1.0)


class TestEMCDRImplicitMLP(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return EMCDR(als(False, n_threads), als(False, n_threads), mapping="mlp", hidden=8, epochs=20)


class TestNoTransfer(TransferContract):
    rating_model = True
    needs_pair = False
    personal_cold = False  # every cold user gets the average user

    def make_model(self, n_threads=0):
        return NoTransfer(als(True, n_threads))


class TestNoTransferImplicit(TransferContract):
    explicit_data = False
    needs_pair = False
    personal_cold = False  # popularity

    def make_model(self, n_threads=0):
        return NoTransfer(als(False, n_threads))


@lru_cache(maxsize=None)
def teacher(explicit):
    return FineTune(als(explicit), pull=1.0).fit(small_pair(explicit=explicit))


class TestDistill(TransferContract):
    rating_model = True
    needs_pair = False

    def make_model(self, n_threads=0):
        return Distill(teacher(True), cr.MF(factors=4), epochs=3, top_k=5, n_threads=n_threads)


class TestDistillImplicit(TransferContract):
    explicit_data = False
    needs_pair = False

    def make_model(self, n_threads=0):
        return Distill(teacher(False), cr.BPR(factors=4), epochs=3, top_k=5, n_threads=n_threads)


class TestAuto(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return Auto(candidates=["EMCDR"], factors=4, iterations=3, time_budget=60, n_threads=n_threads)


class TestConsensusCMF(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return ConsensusCMF(**ALS, rho=1.0, n_threads=n_threads)


class TestConsensusCMFImplicit(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return ConsensusCMF(**ALS, rho=1.0, n_threads=n_threads)
