"""Published weights pinned by content, through a loopback Hugging Face Hub (127.0.0.1 only).

Checkpoints are built here in each original repository's layout (CBraMod, LaBraM, BIOT,
EEGPT; see test_pretrained.py) and published on the loopback hub; registry entries point at
them with the real entries' input contracts. A content-pinned ``known:`` entry loads with no
flag and no warning; a changed byte upstream is refused; an entry without sha256 keys its rows
by what was downloaded (a moved branch recomputes); offline mode works from a warm cache; the
input contract each checkpoint was trained with reaches the model (real eegmat windows).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import socket

import numpy as np
import pytest
import scipy.signal
import torch
from hub_server import LoopbackHub
from hydra import compose, initialize_config_dir
from test_pretrained import NOT_PRETRAINED, ORIGINAL, SMALL

import eegbench.models.weights.known as kc
from eegbench.evaluation.identity import weights_identity
from eegbench.models import InputAdapter, SignalSpec, build_model
from eegbench.models.foundation import TCP16
from eegbench.models.weights.loading import WeightsError
from eegbench.resources import config_dir

C1 = "1111111111111111111111111111111111111111"
C2 = "2222222222222222222222222222222222222222"
FILE = "weights/model.pth"
#: The real registry entry whose input contract each test checkpoint carries.
REAL_ENTRY = {"cbramod": "cbramod-braindecode", "labram": "labram-base-braindecode",
              "biot": "biot-prest-16chs-braindecode", "eegpt": "eegpt-braindecode"}


@pytest.fixture(scope="module")
def batch(eegmat):
    idx = np.r_[0:4, 40:44]
    return np.asarray(eegmat.X[idx], dtype=np.float32), SignalSpec.from_info(
        eegmat.info, eegmat.X.shape[-1])


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """The loopback hub, a fresh weights cache, and a check that only 127.0.0.1 is used."""
    connected: list = []
    real_connect = socket.socket.connect

    def recording_connect(self, address):
        connected.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    with LoopbackHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.setenv("EEGBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server
    hosts = {a[0] for a in connected if isinstance(a, tuple)}
    assert hosts <= {"127.0.0.1"}, f"contacted {hosts}"


def _original(name: str, signal: SignalSpec, seed: int = 3):
    """A small network of ``name`` (weights moved off the init) and its original-layout file."""
    torch.manual_seed(seed)
    ref = build_model(name, arch_params=SMALL[name], adaptation="from_scratch").build(signal)
    state = ref.encoder.net.state_dict()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in state.items():
            if v.is_floating_point() and not k.startswith(NOT_PRETRAINED):
                v.add_(0.05 * torch.randn(v.shape, generator=gen))
    buf = io.BytesIO()
    torch.save(ORIGINAL[name]({k: v.clone() for k, v in state.items()
                               if not k.startswith(NOT_PRETRAINED)}), buf)
    return ref.eval(), buf.getvalue()


def _register(monkeypatch, *entries: kc.KnownCheckpoint) -> None:
    table = {**kc.known_checkpoints(), **{e.name: e for e in entries}}
    monkeypatch.setattr(kc, "known_checkpoints", lambda: table)


def _entry(name: str, repo: str, sha256: str | None) -> kc.KnownCheckpoint:
    """A registry entry for the loopback file, with the real entry's input contract."""
    real = kc.get_known_checkpoint(REAL_ENTRY[name])
    return dataclasses.replace(real, name=f"test-{name}", repo_id=repo, filename=FILE,
                               revision=None, sha256=sha256, key_layout=name)


def _model(name: str, source: str, **kw):
    return build_model(name, arch_params=SMALL[name], adaptation="linear_probe",
                       checkpoint=source, **kw)


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_content_pinned_entry_loads_silently_and_a_changed_byte_is_refused(
        name, hub, batch, monkeypatch, caplog):
    X, signal = batch
    reference, blob = _original(name, signal)
    repo = f"loopback/{name}-pretrained"
    sha = hub.state.add_file(repo, C1, FILE, blob)
    _register(monkeypatch, _entry(name, repo, sha))
    with caplog.at_level(logging.WARNING):
        model = _model(name, f"known:test-{name}")
        torch.manual_seed(3)  # the same init as the reference for what is not pretrained
        loaded = model.build(signal).eval()
    assert not [r for r in caplog.records if "is not pinned" in r.getMessage()
                or "allow_unpinned" in r.getMessage()]
    x = torch.from_numpy(X)
    with torch.no_grad():
        assert torch.equal(loaded.forward_features(x), reference.forward_features(x))
    # the registry's input contract is the one the model's adapter applies
    contract = kc.get_known_checkpoint(REAL_ENTRY[name]).contract
    assert {k: getattr(loaded.adapter.contract, k) for k in contract} == contract
    # loaded from the default branch (no revision recorded), verified byte for byte
    assert ("HEAD", f"/{repo}/resolve/main/{FILE}") in hub.state.requests
    key, weights = weights_identity({"checkpoint": f"known:test-{name}"})
    assert key == f"sha256:{sha}"
    assert weights == {"source": f"known:test-{name}", "kind": "hub", "sha256": sha,
                       "commit": None, "pinned_by": "sha256", "known": f"test-{name}"}

    # one byte changed upstream (a new commit on main): refused, naming both sha256
    tampered = bytearray(blob)
    tampered[len(tampered) // 2] ^= 0x01
    found = hub.state.add_file(repo, C2, FILE, bytes(tampered))
    with pytest.raises(WeightsError, match=f"commit {C2}.* has sha256 {found}, but {sha} was "
                                           "expected"):
        _model(name, f"known:test-{name}").build(signal)


def _cfg(tmp_path, data_root, source: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            "model=cbramod", "model.adaptation=linear_probe", f"model.params.checkpoint={source}",
            "+model.params.allow_unpinned=true",
            *[f"+model.params.arch_params.{k}={v}" for k, v in SMALL["cbramod"].items()],
            "dataset.subjects=[00,01,02,03]", "trainer.num_threads=1",
            f"paths.data_root={data_root}", f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.runs_dir={tmp_path / 'runs'}"])


def _run(cfg, caplog) -> str:
    from eegbench.evaluation.job import run_experiment

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eegbench"):
        run_experiment(cfg)
    return caplog.text


def _rows(tmp_path) -> list[dict]:
    return [json.loads(p.read_text())
            for p in (tmp_path / "runs" / "default" / "results" / "rows").glob("[!.]*.json")]


@pytest.mark.parametrize("kind", ["known", "hf"])
def test_unpinned_weights_key_rows_by_what_was_downloaded(kind, hub, batch, monkeypatch,
                                                          tmp_path, data_root, caplog):
    """An entry without sha256 (or hf://...@main with allow_unpinned): rows hold the resolved
    commit and the downloaded file's sha256; moving the branch recomputes every fold."""
    _, signal = batch
    repo = "loopback/cbramod-moving"
    sha1 = hub.state.add_file(repo, C1, FILE, _original("cbramod", signal, seed=3)[1])
    _register(monkeypatch, _entry("cbramod", repo, None))
    source = "known:test-cbramod" if kind == "known" else f"hf://{repo}@main/{FILE}"
    cfg = _cfg(tmp_path, data_root, source)
    log = _run(cfg, caplog)
    assert "4 new fold(s), 0 skipped" in log and "is not pinned" in log
    rows = _rows(tmp_path)
    assert {r["checkpoint"] for r in rows} == {f"sha256:{sha1} commit:{C1}"}
    assert {json.dumps(r["weights"], sort_keys=True) for r in rows} == {json.dumps(
        {"source": source, "kind": "hub", "sha256": sha1, "commit": C1, "pinned_by": "none",
         **({"known": "test-cbramod"} if kind == "known" else {})}, sort_keys=True)}
    assert "0 new fold(s), 4 skipped" in _run(cfg, caplog)

    sha2 = hub.state.add_file(repo, C2, FILE, _original("cbramod", signal, seed=4)[1])
    assert "4 new fold(s), 0 skipped" in _run(cfg, caplog)  # the branch moved: new weights
    assert {r["checkpoint"] for r in _rows(tmp_path)} == {f"sha256:{sha1} commit:{C1}",
                                                          f"sha256:{sha2} commit:{C2}"}
    assert "0 new fold(s), 4 skipped" in _run(cfg, caplog)


def test_offline_mode_with_a_warm_cache(hub, batch, monkeypatch, tmp_path):
    X, signal = batch
    reference, blob = _original("cbramod", signal)
    pinned_repo, moving_repo = "loopback/cbramod-pinned", "loopback/cbramod-unpinned"
    sha = hub.state.add_file(pinned_repo, C1, FILE, blob)
    hub.state.add_file(moving_repo, C1, FILE, blob)
    _register(monkeypatch, _entry("cbramod", pinned_repo, sha),
              dataclasses.replace(_entry("cbramod", moving_repo, None), name="test-moving"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE is set and the file is not in the "
                                           "cache"):
        _model("cbramod", "known:test-cbramod").build(signal)
    assert hub.state.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    _model("cbramod", "known:test-cbramod").build(signal)  # warm the cache
    _model("cbramod", "known:test-moving", allow_unpinned=True).build(signal)
    n_requests = len(hub.state.requests)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = _model("cbramod", "known:test-cbramod").build(signal).eval()
    assert weights_identity({"checkpoint": "known:test-cbramod"})[0] == f"sha256:{sha}"
    assert weights_identity({"checkpoint": "known:test-moving", "allow_unpinned": True})[0] == \
        f"sha256:{sha} commit:{C1}"  # the branch resolved from the cache's refs
    assert len(hub.state.requests) == n_requests  # no request at all
    with torch.no_grad():
        x = torch.from_numpy(X)
        assert torch.equal(loaded.forward_features(x), reference.forward_features(x))
    # each download is recorded in the cache: commit, sha256 and size
    repo_cache = tmp_path / "weights" / "hub" / "models--loopback--cbramod-pinned"
    (record,) = (repo_cache / "eegbench").rglob("*.json")
    assert json.loads(record.read_text()) == {
        "repo_id": pinned_repo, "filename": FILE, "requested_revision": None, "commit": C1,
        "sha256": sha, "size": len(blob), "pinned_by": "sha256"}
    assert kc.known_checkpoints()["test-cbramod"].cached_path() is not None


# ------------------------------------------------------------------ input contracts on eegmat


def _source_resample(X: np.ndarray, sfreq_in: float, sfreq_out: float) -> np.ndarray:
    return scipy.signal.resample(X, int(round(X.shape[-1] * sfreq_out / sfreq_in)), axis=-1)


def _cbramod_labram_source(X, names, sfreq):
    """CBraMod / LaBraM pretraining: 200 Hz, microvolts / 100."""
    return _source_resample(X, sfreq, 200) / 100


def _eegpt_source(X, names, sfreq):
    """EEGPT: 256 Hz, microvolts / 1000 (millivolts)."""
    return _source_resample(X, sfreq, 256) / 1000


def _biot_source(X, names, sfreq):
    """BIOT: TCP bipolar derivations, 200 Hz, / (95th percentile of |x| + 1e-8) per channel."""
    index = {n.upper(): i for i, n in enumerate(names)}
    bipolar = np.stack([X[:, index[a.upper()]] - X[:, index[b.upper()]] for a, b in TCP16], 1)
    Y = _source_resample(bipolar, sfreq, 200)
    return Y / (np.quantile(np.abs(Y), q=0.95, method="linear", axis=-1, keepdims=True) + 1e-8)


def _luna_source(X, names, sfreq):
    """LUNA (BioFoundation ChannelWiseNormalize): 256 Hz, (x - mean) / (std + 1e-8)."""
    Y = _source_resample(X, sfreq, 256)
    return (Y - Y.mean(-1, keepdims=True)) / (Y.std(-1, ddof=1, keepdims=True) + 1e-8)


SOURCE_SCALING = {
    "cbramod": ("cbramod-braindecode", _cbramod_labram_source, {}),
    "labram": ("labram-base-braindecode", _cbramod_labram_source, {}),
    "eegpt": ("eegpt-braindecode", _eegpt_source, {}),
    "biot": ("biot-prest-16chs-braindecode", _biot_source, {}),
    "luna": ("luna-base", _luna_source, {"arch_params": {"embed_dim": 32, "depth": 2,
                                                         "num_queries": 2}}),
}


@pytest.mark.parametrize("name", sorted(SOURCE_SCALING))
def test_input_contract_of_the_checkpoint_matches_its_source(name, batch):
    """On real eegmat windows, what the model's input adapter hands the network is what the
    checkpoint's own pretraining code produced from microvolts (rate, montage, scaling)."""
    X, signal = batch
    entry_name, source_transform, kwargs = SOURCE_SCALING[name]
    model = build_model(name, checkpoint=f"known:{entry_name}", **kwargs)  # no download
    entry = kc.get_known_checkpoint(entry_name)
    assert {k: getattr(model.contract, k) for k in entry.contract} == entry.contract
    adapter = InputAdapter(model.contract, signal.ch_names, signal.sfreq, signal.n_times)
    with torch.no_grad():
        seen = adapter(torch.from_numpy(X)).numpy()
    expected = source_transform(X.astype(np.float64), signal.ch_names, signal.sfreq)
    assert seen.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(seen, expected, atol=2e-4 * scale, rtol=0)
    # a checkpoint-less model keeps the class default (LUNA's differs from the authors' 256 Hz)
    default = build_model(name, **kwargs).contract
    if name == "luna":
        assert default.sfreq != entry.contract["sfreq"] and default.normalize is None


def test_registry_values_are_cited():
    for entry in kc.known_checkpoints().values():
        cited = set(entry.sources or {})
        for key in set(entry.contract or {}) - {"units"}:
            assert f"contract.{key}" in cited, (entry.name, key)
        if entry.sha256:
            assert len(entry.sha256) == 64 and "sha256" in cited, entry.name
        assert entry.share_adapters or entry.licence_note, entry.name


def test_checkpoints_command_lists_licence_pin_status_and_cache(hub, batch, monkeypatch,
                                                                capsys):
    from eegbench.models.__main__ import main

    _, signal = batch
    repo = "loopback/cbramod-listed"
    sha = hub.state.add_file(repo, C1, FILE, _original("cbramod", signal)[1])
    _register(monkeypatch, _entry("cbramod", repo, sha))

    def line_of(text: str, name: str) -> str:
        return next(ln for ln in text.splitlines() if ln.startswith(f"| `known:{name}`"))

    assert main(["checkpoints"]) == 0
    before = capsys.readouterr().out
    for name in kc.known_checkpoints():
        assert f"`known:{name}`" in before
    line = line_of(before, "test-cbramod")
    assert f"{repo} / {FILE}" in line and "content (sha256)" in line and sha[:12] in line
    assert "| no |" in line and "sfreq 200, patch_size 200, units 100uV, scale 0.01" in line
    luna = line_of(before, "luna-base")
    assert "cc-by-nd-4.0" in luna and "not pinned (needs allow_unpinned)" in luna
    notes = before.split("Licences:")[1]
    assert "no modified weights may be shared" in notes
    assert "never writes weights adapted from it into a shareable submission bundle" in notes
    assert "`known:reve-base`" in notes and "data usage terms" in notes
    assert "`known:eegdino-small-braindecode`" in notes and "open question" in notes
    _model("cbramod", "known:test-cbramod").build(signal)  # downloads into the cache
    n_requests = len(hub.state.requests)
    main(["checkpoints"])
    assert "| yes |" in line_of(capsys.readouterr().out, "test-cbramod")
    assert len(hub.state.requests) == n_requests  # listing makes no request
