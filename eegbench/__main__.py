"""Command line: ``eegbench <command> [args]`` or ``python -m eegbench``.

The dispatch is :mod:`eegbench.cli.main`.
"""

from __future__ import annotations

import sys

from eegbench.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
