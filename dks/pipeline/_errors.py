"""The one exception of the pipeline: :class:`AnalysisError`."""

__all__ = ["AnalysisError"]


class AnalysisError(ValueError):
    """A problem with the inputs or the results folder, explained in one sentence."""
