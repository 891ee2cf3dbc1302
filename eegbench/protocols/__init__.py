"""Evaluation protocols: splitters over the window metadata table.

Every protocol is a pure splitter (window indices in, folds out); the splitters are listed by
name in :mod:`eegbench.protocols.registry`.
"""

from eegbench.protocols.registry import PROTOCOLS, make_splitter, splitter_classes
from eegbench.protocols.splitters import Fold, LeaveOneSubjectOut, assert_disjoint

__all__ = ["PROTOCOLS", "Fold", "LeaveOneSubjectOut", "assert_disjoint", "make_splitter",
           "splitter_classes"]
