"""Bridges from other dataset libraries (MOABB) onto standardized windows."""
