"""Weights whose licence forbids sharing derivatives never stay in a submission bundle."""

from __future__ import annotations

from eegbench.submission.bundle import restricted_checkpoints, withhold_restricted_weights


def _row(**weights):
    return {"model": "luna", "weights": weights or None,
            "config": {"model": {"params": {"checkpoint": weights.get("source")}}}}


def _bundle(tmp_path):
    (tmp_path / "runs" / "models").mkdir(parents=True)
    for name in ("runs/models/fold0_adapter.safetensors", "runs/models/head.pt",
                 "rows.jsonl", "runs/results/rows/abc.json"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_luna_adapted_weights_are_removed_and_rows_kept(tmp_path):
    bundle = _bundle(tmp_path)
    rows = [_row(source="known:luna-base", known="luna-base", sha256="0" * 64,
                 pinned_by="none")]
    assert restricted_checkpoints(rows) == {"luna-base": "cc-by-nd-4.0"}
    removed = withhold_restricted_weights(bundle, rows)
    assert removed == ["runs/models/fold0_adapter.safetensors", "runs/models/head.pt"]
    assert not list(bundle.rglob("*.safetensors")) and not list(bundle.rglob("*.pt"))
    assert (bundle / "rows.jsonl").is_file() and (bundle / "runs/results/rows/abc.json").is_file()


def test_the_same_repository_file_without_the_registry_name_is_recognised(tmp_path):
    rows = [_row(source="hf://PulpBio/LUNA@main/LUNA_base.safetensors", sha256="1" * 64,
                 pinned_by="none")]
    assert restricted_checkpoints(rows) == {"luna-base": "cc-by-nd-4.0"}


def test_shareable_weights_are_left_alone(tmp_path):
    bundle = _bundle(tmp_path)
    rows = [_row(source="known:cbramod-braindecode", known="cbramod-braindecode",
                 sha256="44616452587522b3c84f7a90c5a5c8ff97ff4707a99686d9136b70df5d206287",
                 pinned_by="sha256"), _row(), {"model": "ts_lr"}]
    assert restricted_checkpoints(rows) == {}
    assert withhold_restricted_weights(bundle, rows) == []
    assert (bundle / "runs/models/head.pt").is_file()
