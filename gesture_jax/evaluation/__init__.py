"""The evaluation engine: the run context, result rows and their metrics, selection on validation,
paired comparisons, breakdowns, and the report a run publishes."""
