"""The two exceptions tetrimino raises on purpose."""


class InvalidProblem(ValueError):
    """Bad input: the message names the source, the row and the field."""


class PlacementError(AssertionError):
    """A placement breaks a rule of its problem (capacity, constraint, dead machine)."""
