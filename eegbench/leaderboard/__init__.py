"""Leaderboard: results store -> tables (Markdown, CSV, HTML), statistics and plots."""

from eegbench.leaderboard.tables import summarize, to_markdown

__all__ = ["summarize", "to_markdown"]
