"""`python -m eegbench.data list`: the catalogue agrees with the recordings and the cache."""

from __future__ import annotations

from eegbench.data.__main__ import main as data_cli
from eegbench.data.cache import load_windows
from eegbench.data.catalog import catalog, moabb_entries
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.resources import recipes_dir


def test_catalogue_counts_subjects_sessions_and_cache_state(data_root, tmp_path, capsys):
    name = "muse_auditory_p300_eegnotebooks"
    load_windows(load_recipe(name), data_root, PreprocessSpec(), tmp_path / "cache")
    rows = {r.name: r for r in catalog(data_root, tmp_path / "cache")}
    assert set(rows) == {p.stem for p in recipes_dir().glob("*.yaml")}
    for row in rows.values():
        sources = load_recipe(row.name).discover(data_root)
        assert row.subjects == len({s.subject for s in sources})
        assert row.sessions == len({(s.subject, s.groups.get("session", "0")) for s in sources})
        assert row.local == f"{len(sources)}/{row.files} files"
    assert rows[name].cache == "1 valid entry"
    assert rows["physionet_eegmat"].cache == "not cached"
    n170 = rows["muse_n170_eegnotebooks"]
    assert n170.channels == 4 and n170.sfreq == 256.0 and n170.licence == "BSD-3-Clause"
    # An empty data root: every dataset absent, counts from the recipes' pinned files.
    empty = {r.name: r for r in catalog(tmp_path / "nothing")}
    assert all(r.local == "absent" for r in empty.values())
    assert empty[name].subjects == rows[name].subjects
    assert {r.name for r in moabb_entries()} >= {"moabb_physionetmi_lr", "moabb_ssvepexo"}
    assert data_cli(["list", "--data-root", str(data_root), "--cache-dir",
                     str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| name | paradigm |") and "| muse_n170_eegnotebooks | erp |" in out
