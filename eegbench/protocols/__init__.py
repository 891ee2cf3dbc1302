"""Evaluation protocols: splitters over the window metadata table."""

from eegbench.protocols.splitters import Fold, LeaveOneSubjectOut, assert_disjoint, make_splitter

__all__ = ["Fold", "LeaveOneSubjectOut", "assert_disjoint", "make_splitter"]
