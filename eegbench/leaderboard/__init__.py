"""Leaderboard: results store -> tables (Markdown, CSV) with provenance."""

from eegbench.leaderboard.tables import summarize, to_markdown

__all__ = ["summarize", "to_markdown"]
