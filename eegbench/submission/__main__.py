"""``python -m eegbench.submission``: run a model on the official configurations, or verify."""

import sys

from eegbench.submission.bundle import main

if __name__ == "__main__":
    sys.exit(main())
