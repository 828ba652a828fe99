"""Exceptions raised by crossrec. Bad input is a ``ValueError`` subclass naming the problem."""


class CrossrecError(Exception):
    """Base class of crossrec's own exceptions."""


class UnknownIdError(CrossrecError, KeyError):
    """A user or item id that the data or fitted model does not know."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(CrossrecError, ValueError):
    """A model method that needs ``fit`` was called before it."""


class FitError(CrossrecError, RuntimeError):
    """Training failed numerically (e.g. a system that is not positive definite, NaN factors)."""


class ModelFileError(CrossrecError, ValueError):
    """A saved model file that is corrupt, truncated, foreign or of an unsupported version."""


class FallbackWarning(UserWarning):
    """``predict`` / ``recommend`` with ``unknown="fallback"`` or ``"nan"`` answered some rows for
    ids the model has not seen; the message says how many and which."""
