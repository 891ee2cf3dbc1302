"""Time ``protocol=blocked_kfold`` on the real eegmat windows (all subjects, default settings).

Usage: ``python benchmarks/blocked_kfold_speed.py``. Reads ``$EEGBENCH_DATA_ROOT`` (default
../shared/data) and caches windows in ``$EEGBENCH_CACHE_DIR`` (default .eegbench_cache); the
time printed is the split alone (the windows are loaded, and the splitter imported, before).
"""

import logging
import os
import sys
import time
from pathlib import Path

from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.protocols.splitters import make_splitter


def main(recipe: str = "physionet_eegmat") -> None:
    """Print the wall and CPU time of splitting ``recipe``'s windows, and the fold count."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    ds = load_windows(load_recipe(recipe),
                      Path(os.environ.get("EEGBENCH_DATA_ROOT", "../shared/data")),
                      PreprocessSpec(),
                      Path(os.environ.get("EEGBENCH_CACHE_DIR", ".eegbench_cache")))
    meta = ds.meta.assign(duration_s=ds.X.shape[-1] / ds.info["sfreq"])
    splitter = make_splitter("blocked_kfold", seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    folds = list(splitter.split(meta))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"blocked_kfold on {recipe}: {len(meta)} windows, {meta['subject'].nunique()} "
          f"subjects, {len(folds)} folds in {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main(*sys.argv[1:])
