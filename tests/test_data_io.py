"""wengert.data (generators, digits, DataLoader, splits) and wengert.io (safetensors checkpoints)."""
from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

import wengert as wg
from wengert import data, nn
from wengert.io import CheckpointError

GENERATORS = {"moons": data.make_moons, "circles": data.make_circles, "spirals": data.make_spirals,
              "xor": data.make_xor}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_seeded_and_well_formed(name):
    gen = GENERATORS[name]
    X, y = gen(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64 and y.shape == (101,)
    counts = np.bincount(y)
    assert counts.min() >= 101 // len(counts) - 1  # balanced classes
    X2, y2 = gen(101, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, gen(101, seed=4)[0])
    with pytest.raises(ValueError, match="integer >= 2"):
        gen(1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        gen(10, noise=-1.0)


def test_xor_labels_follow_the_quadrants():
    X, y = data.make_xor(200, noise=0.05, seed=0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_digits_ship_inside_the_package():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and 0.0 <= X.min() and X.max() == 1.0
    assert np.array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    images, _ = data.load_digits(flat=False)
    assert images.shape == (1797, 8, 8)
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    np.testing.assert_array_equal(X * 16, ref.data)
    np.testing.assert_array_equal(y, ref.target)


def test_dataloader_batches_cover_every_sample_once_per_epoch():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    loader = data.DataLoader((X, y), batch_size=4, shuffle=True, seed=1)
    assert len(loader) == 3
    e1 = [yb for _, yb in loader]
    e2 = [yb for _, yb in loader]
    assert [len(b) for b in e1] == [4, 4, 2]
    assert sorted(np.concatenate(e1).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(e1), np.concatenate(e2))  # a new order every epoch
    for xb, yb in data.DataLoader((X, y), batch_size=4, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # rows stay paired
    again = [yb for _, yb in data.DataLoader((X, y), batch_size=4, shuffle=True, seed=1)]
    assert all(np.array_equal(a, b) for a, b in zip(e1, again))  # same seed, same order
    resumed = data.DataLoader((X, y), batch_size=4, shuffle=True, seed=99)
    first = data.DataLoader((X, y), batch_size=4, shuffle=True, seed=1)
    list(first)
    resumed.load_state_dict(first.state_dict())
    assert [b.tolist() for _, b in resumed] == [b.tolist() for b in e2]  # continues with the second epoch's order
    dl = data.DataLoader(X, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b.shape for b in dl] == [(4, 2), (4, 2)]


def test_dataloader_bad_input():
    with pytest.raises(ValueError, match="same first dimension"):
        data.DataLoader((np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.DataLoader(np.zeros((5, 2)), batch_size=0)


def test_train_test_split_stratified():
    X, y = data.load_digits()
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=0.2, seed=0, stratify=y)
    assert len(Xtr) + len(Xte) == 1797 and len(Xtr) == len(ytr)
    frac = np.bincount(yte) / np.bincount(y)
    assert np.all(np.abs(frac - 0.2) < 0.01)
    with pytest.raises(ValueError, match="test_fraction must lie in"):
        data.train_test_split(X, y, test_fraction=1.0)


# ------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.Linear(4, 2, dtype=np.float64, rng=1))
    state = net.state_dict()
    state["step"] = np.array(7)
    state["flag"] = np.array([True, False])
    path = tmp_path / "ck.safetensors"
    assert wg.save(state, path, metadata={"note": "hello"}) == path
    back, meta = wg.load(path, with_metadata=True)
    assert meta == {"note": "hello"}
    assert set(back) == set(state)
    for k, v in state.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
    back["0.weight"][...] = 0  # loaded arrays are owned and writable
    other = nn.Sequential(nn.Linear(3, 4, rng=5), nn.BatchNorm1d(4), nn.Linear(4, 2, dtype=np.float64, rng=6))
    del back["step"], back["flag"]
    other.load_state_dict(back)
    assert not other[0].weight.data.any()
    wg.save({"t": wg.tensor([1.0, 2.0]), "x": 3.5}, path)
    assert wg.load(path)["x"] == 3.5


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="only arrays, tensors, numbers, strings"):
        wg.save({"obj": object()}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="keys must be strings"):
        wg.save({(1, 2): np.zeros(2)}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="dict of arrays"):
        wg.save([np.zeros(2)], tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="metadata must map strings to strings"):
        wg.save({"a": np.zeros(2)}, tmp_path / "a.safetensors", metadata={"epoch": 3})
    with pytest.raises(FileNotFoundError, match="directory .* does not exist"):
        wg.save({"a": np.zeros(2)}, tmp_path / "nope" / "a.safetensors")
    with pytest.raises(TypeError):
        pickle.dumps(wg.tensor([1.0]))  # tensors refuse pickling outright


def test_a_crash_mid_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    wg.save({"w": np.arange(4.0)}, path)
    before = path.read_bytes()

    import safetensors.numpy

    real_save_file = safetensors.numpy.save_file

    class Crash(Exception):
        pass

    def crashing_save_file(arrays, filename, metadata=None):
        real_save_file(arrays, filename, metadata=metadata)
        with open(filename, "r+b") as fh:  # half the bytes reach the disk, then the process "dies"
            fh.truncate(os.path.getsize(filename) // 2)
        raise Crash("power cut")

    monkeypatch.setattr(safetensors.numpy, "save_file", crashing_save_file)
    with pytest.raises(Crash):
        wg.save({"w": np.arange(1000.0)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert np.array_equal(wg.load(path)["w"], np.arange(4.0))
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # no temporary file left behind

    def crashing_replace(src, dst):
        raise Crash("killed before the rename")

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(Crash):
        wg.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):  # unpickling this would create a file: it must never happen
        return (open, (self.target, "w"))


def test_loading_a_truncated_or_foreign_file_fails_cleanly(tmp_path):
    good = tmp_path / "good.safetensors"
    wg.save({"w": np.arange(100.0), "b": np.ones(3, np.float32)}, good)
    blob = good.read_bytes()
    cases = {
        "truncated_body": (blob[:-50], "truncated"),
        "truncated_header": (blob[:20], "truncated"),
        "tiny": (blob[:3], "fewer than the 8-byte header"),
        "empty": (b"", "fewer than the 8-byte header"),
        "huge_header": (struct.pack("<Q", 2**60) + b"{}", "header too large"),
        "not_json": (struct.pack("<Q", 4) + b"\xff\xfe{x", "header"),
        "json_list": (struct.pack("<Q", 2) + b"[]", "invalid type: sequence"),
        "bad_offsets": (struct.pack("<Q", 60) + b'{"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 9]}}'
                        [:60].ljust(60) + b"\0" * 16, "offset|JSON"),
        "random": (np.random.default_rng(0).bytes(200), "header|truncated|JSON"),
        "zip": (b"PK\x03\x04" + b"\0" * 100, "zip archive"),
    }
    victim = tmp_path / "pwned"
    cases["pickle"] = (pickle.dumps({"w": _Evil(str(victim))}, protocol=4), "pickle")
    for name, (content, message) in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(content)
        with pytest.raises(CheckpointError, match=message):
            wg.load(p)
    assert not victim.exists()
    assert issubclass(CheckpointError, ValueError)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        wg.load(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError):
        wg.load(tmp_path)
