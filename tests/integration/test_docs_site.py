"""The built documentation's index page loads in headless Chromium; damage to it is caught.

Uses the leaderboard site's checker (``scripts/check_site.py``): every image decodes, every
relative link answers, every table has rows. The documentation is built beforehand with
``python -m sphinx -W --keep-going -b html docs docs/_build/html``. Without that build (or
without Chromium) the test is skipped; CI builds it and sets ``EEGBENCH_REQUIRE_DOCS=1`` and
``EEGBENCH_REQUIRE_CHROMIUM=1``, so there a missing build or browser fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "docs" / "_build" / "html"
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get(
    "EEGBENCH_REQUIRE_CHROMIUM"), reason="chromium is not installed")


def _checker():
    spec = importlib.util.spec_from_file_location("check_site", REPO / "scripts" /
                                                  "check_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def built_docs(tmp_path: Path) -> Path:
    """A copy of the built documentation (the test damages it)."""
    if not (BUILT / "index.html").is_file():
        if os.environ.get("EEGBENCH_REQUIRE_DOCS"):
            pytest.fail(f"{BUILT / 'index.html'} is missing: the documentation build failed "
                        "or did not run.")
        pytest.skip("documentation not built (python -m sphinx -W --keep-going -b html docs "
                    "docs/_build/html)")
    return shutil.copytree(BUILT, tmp_path / "html", ignore=shutil.ignore_patterns(".doctrees"))


def _check_index(check, site: Path, tmp_path: Path) -> dict:
    root = tmp_path / "served"
    root.mkdir(exist_ok=True)
    if not (root / "site").exists():
        (root / "site").symlink_to(site)
    (root / "harness.html").write_text(check.HARNESS)
    server, port = check.serve(root)
    try:
        return check.check_page(CHROMIUM, f"http://127.0.0.1:{port}/harness.html?page=site/"
                                          "index.html", tmp_path / "profile")
    finally:
        server.shutdown()


def test_docs_index_loads_and_damage_is_reported(built_docs, tmp_path):
    check = _checker()
    verdict = _check_index(check, built_docs, tmp_path)
    assert verdict["problems"] == []
    assert verdict["images"] >= 1  # the pipeline diagram

    index = (built_docs / "index.html").read_text()
    diagram = re.search(r'<img src="(_images/graphviz-[0-9a-f]+\.png)"', index).group(1)
    (built_docs / diagram).unlink()
    (built_docs / "getting_started.html").unlink()
    problems = _check_index(check, built_docs, tmp_path)["problems"]
    assert f"missing image: {diagram}" in problems
    assert "broken link: getting_started.html (HTTP 404)" in problems
