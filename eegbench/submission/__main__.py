"""``python -m eegbench.submission``: the same command line as ``eegbench submission``.

The command line lives in :mod:`eegbench.cli.submission` (it composes Hydra configurations,
which only the command line may do); this module only hands over to it, so the import points
up once, by design (an ``ignore_imports`` entry of the layers contract in pyproject.toml).
"""

import sys

from eegbench.cli.submission import main

if __name__ == "__main__":
    sys.exit(main())
