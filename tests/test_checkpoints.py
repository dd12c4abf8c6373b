"""Checkpoints that always load (issue 12, items 1-5, 8, 11, 12) and whole runs in one file (issue 13).

Every test here is a regression test for a bug an adversarial review found;
the fuzz test feeds crafted headers to ``wg.load`` and accepts only the
library's error or a correct load.
"""
from __future__ import annotations

import json
import os
import stat
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wengert as wg
from wengert import nn, optim
from wengert.io import CheckpointError
from wengert.nn.module import StateDictError

NP = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "I16": np.int16,
      "I8": np.int8, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_}


def _file(header: dict | bytes, body: bytes = b"", pad_to: int | None = None, length: int | None = None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad_to is not None:
        text = text.ljust(pad_to)  # safetensors pads its header with spaces
    return struct.pack("<Q", len(text) if length is None else length) + text + body


# ------------------------------------------------------------------ item 1: valid files are never taken for pickles
def test_every_padded_header_length_loads(tmp_path):
    path = tmp_path / "h.safetensors"
    body = np.arange(3, dtype=np.float32).tobytes()
    entry = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}).encode()
    for n in range(8, 4097, 8):  # 640, 896, 1152, 1408 start with the bytes of pickle protocols 2..5
        header, expected = (entry, {"w": np.arange(3.0)}) if n >= len(entry) else (b"{}", {})
        path.write_bytes(_file(header, body if expected else b"", pad_to=n))
        got = wg.load(path)
        assert set(got) == set(expected), n
        for k in expected:
            np.testing.assert_array_equal(got[k], expected[k])


def test_a_sequential_whose_header_starts_like_a_pickle_round_trips(tmp_path):
    net = nn.Sequential(*[nn.Linear(8, 8, rng=i) for i in range(5)])
    path = tmp_path / "net.safetensors"
    lengths = set()
    for pad in range(0, 400, 8):  # the metadata moves the header length over every value near 640
        wg.save(net.state_dict(), path, metadata={"pad": "x" * pad})
        lengths.add(int.from_bytes(path.read_bytes()[:8], "little"))
        back = wg.load(path)
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(back[k], v)
    assert any(n.to_bytes(8, "little")[:2] in (b"\x80\x04", b"\x80\x05") for n in lengths)  # 1152, 1408


# ------------------------------------------------------------------ item 3: reserved names, refused before the file
def test_reserved_keys_are_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "ck.safetensors"
    wg.save({"w": np.ones(2)}, path)
    before = path.read_bytes()
    for bad in ({"__metadata__": {"a": "b"}}, {"__metadata__": np.ones(2)}):
        with pytest.raises(ValueError, match="'__metadata__' is reserved"):
            wg.save(bad, path)
    with pytest.raises(ValueError, match="'wengert.tree' is reserved"):
        wg.save({"w": np.ones(2)}, path, metadata={"wengert.tree": "{}"})
    with pytest.raises(ValueError, match="both be stored as tensor 'a.b'"):
        wg.save({"a.b": np.ones(1), "a": {"b": np.ones(1)}}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]


# ------------------------------------------------------------------ item 4: only regular files are written
def test_save_refuses_special_files_and_write_protected_ones(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="is a FIFO, not a regular file"):
        wg.save({"w": np.ones(2)}, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(IsADirectoryError, match="is a directory, not a regular file"):
        wg.save({"w": np.ones(2)}, tmp_path)
    locked = tmp_path / "locked.safetensors"
    wg.save({"w": np.ones(2)}, locked)
    os.chmod(locked, 0o444)
    with pytest.raises(PermissionError, match=r"write-protected \(mode 0444\).*chmod u\+w"):
        wg.save({"w": np.zeros(2)}, locked)
    np.testing.assert_array_equal(wg.load(locked)["w"], np.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["fifo", "locked.safetensors"]


def test_save_follows_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real.safetensors"
    wg.save({"w": np.ones(2)}, real)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real.name)
    wg.save({"w": np.zeros(2)}, link)
    assert link.is_symlink() and os.readlink(link) == real.name
    np.testing.assert_array_equal(wg.load(real)["w"], np.zeros(2))
    dangling = tmp_path / "new.safetensors"
    dangling.symlink_to("made-through-the-link.safetensors")
    wg.save({"w": np.ones(1)}, dangling)
    assert dangling.is_symlink() and (tmp_path / "made-through-the-link.safetensors").is_file()
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    with pytest.raises(OSError, match="symlink loop"):
        wg.save({"w": np.ones(1)}, loop)


def test_new_files_honour_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.safetensors"
        wg.save({"w": np.ones(2)}, fresh)
        assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o640
    finally:
        os.umask(old)
    kept = tmp_path / "kept.safetensors"
    wg.save({"w": np.ones(2)}, kept)
    os.chmod(kept, 0o604)
    wg.save({"w": np.zeros(2)}, kept)
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o604


def test_save_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="the path is empty"):
        wg.save({"w": np.ones(1)}, "")
    with pytest.raises(FileNotFoundError, match="cannot write .*x.safetensors': directory .* does not exist"):
        wg.save({"w": np.ones(1)}, os.path.join(tmp_path, "nope", "x.safetensors"))
    target = tmp_path / "ro.safetensors"

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".ro.safetensors.abcd1234.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # a read-only directory (root would ignore the mode)
    with pytest.raises(PermissionError) as exc:
        wg.save({"w": np.ones(1)}, target)
    assert str(target) in str(exc.value) and ".tmp" not in str(exc.value) and "Permission denied" in str(exc.value)


# ------------------------------------------------------------------ item 5: leftovers of killed saves
def test_leftover_temporary_files_are_removed_but_live_ones_kept(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    target = tmp_path / "ck.safetensors"
    stale = tmp_path / ".ck.safetensors.k1ll3d_9.tmp"  # what a save killed with -9 leaves behind
    stale.write_bytes(b"\0" * 1000)
    other = tmp_path / ".other.safetensors.abcdefgh.tmp"  # another target's: not ours to delete
    other.write_bytes(b"x")
    live = tmp_path / ".ck.safetensors.writing_.tmp"  # a save in progress holds its lock
    live.write_bytes(b"y")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        wg.save({"w": np.ones(2)}, target)
        assert sorted(os.listdir(tmp_path)) == sorted([target.name, other.name, live.name])
    wg.save({"w": np.ones(2)}, target)
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, other.name])


# ------------------------------------------------------------------ item 8: load_state_dict is all or nothing
def test_load_state_dict_checks_everything_before_writing():
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Linear(3, 1, rng=1))
    before = {k: v.copy() for k, v in net.state_dict().items()}
    good = net.state_dict()
    cases = {
        "string": ({**good, "1.bias": np.array(["a"])}, r"1.bias: the value is not numeric \(<U1\)"),
        "object": ({**good, "1.bias": np.array([object()], dtype=object)}, "1.bias: the value is not numeric"),
        "complex": ({**good, "1.bias": np.array([1 + 2j])}, r"1.bias: the value is complex \(the imaginary part"),
        "overflow": ({**good, "1.bias": np.array([1e300])}, "1.bias: values up to 1e\\+300 do not fit float32"),
        "ragged": ({**good, "1.bias": [[1.0], [1.0, 2.0]]}, "1.bias: not an array"),
        "shape": ({**good, "1.weight": np.zeros((3, 1))}, r"shape mismatch: checkpoint \(3, 1\), model \(1, 3\)"),
    }
    for k in good:
        good[k] = good[k] + 1.0
    for name, (state, message) in cases.items():
        state = {k: (v + 1.0 if k != "1.bias" and isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
                 for k, v in state.items()}
        with pytest.raises(StateDictError, match=message) as exc:
            net.load_state_dict(state)
        assert "\n" not in str(exc.value) and not str(exc.value).startswith("'"), name
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v, before[k], err_msg=f"{name}: {k} was written")
    assert issubclass(StateDictError, ValueError)
    with pytest.raises(TypeError, match="expected a mapping of names to arrays .* got list"):
        net.load_state_dict([("0.weight", np.zeros((3, 2)))])
    net.load_state_dict(good)  # and a good one loads, in place
    np.testing.assert_array_equal(net[0].weight.data, before["0.weight"] + 1.0)


def test_load_refuses_dtypes_wengert_cannot_hold(tmp_path):
    path = tmp_path / "c.safetensors"
    for dtype, size in (("C64", 8), ("BF16", 2), ("F8_E4M3", 1), ("F8_E5M2", 1)):
        path.write_bytes(_file({"w": {"dtype": dtype, "shape": [1], "data_offsets": [0, size]}}, b"\0" * size))
        with pytest.raises(CheckpointError, match=f"tensor 'w' has dtype {dtype}, which NumPy"):
            wg.load(path)
    with pytest.raises(TypeError, match="dtype complex128"):
        wg.save({"w": np.ones(1, complex)}, path)


# ------------------------------------------------------------------ items 11, 12: hostile files
def test_load_refuses_what_is_not_a_regular_file_without_reading_it(tmp_path):
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="it is a FIFO, not a regular file"):
        wg.load(fifo)  # (reading it would block forever)
    if os.path.exists("/dev/zero"):
        with pytest.raises(CheckpointError, match="character device"):
            wg.load("/dev/zero")
    sparse = tmp_path / "sparse.safetensors"
    with open(sparse, "wb") as fh:
        fh.truncate(6 * 2**30)  # 6 GiB of holes: nothing may read it whole
    with pytest.raises(CheckpointError, match="not a valid safetensors checkpoint"):
        wg.load(sparse)
    hugelen = tmp_path / "hugelen.safetensors"
    with open(hugelen, "wb") as fh:
        fh.write(struct.pack("<Q", 5 * 2**30) + b"{")
        fh.truncate(5 * 2**30 + 100)
    with pytest.raises(CheckpointError, match="header too large"):
        wg.load(hugelen)


def test_crafted_headers_are_checkpoint_errors(tmp_path):
    path = tmp_path / "crafted.safetensors"
    cases = {
        "nested_arrays": (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"", "recursion limit"),
        "long_offset": (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,' + b"9" * 5000 + b"]}}", b"",
                        "number out of range"),
        "negative_shape": (b'{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4, "invalid value"),
        "huge_shape": (json.dumps({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}).encode(),
                       b"\0" * 4, "overflow"),
        "bad_tree": (json.dumps({"__metadata__": {"wengert.tree": "[" * 5000}}).encode(), b"", "wengert.tree"),
        "tree_names_a_ghost": (json.dumps({"__metadata__": {"wengert.tree": '{"dict":[["w",{"tensor":"w"}]]}'}})
                               .encode(), b"", "tensor 'w' is not in the file"),
    }
    for header, body, message in cases.values():
        path.write_bytes(_file(header, body))
        with pytest.raises(CheckpointError, match=message):
            wg.load(path)
    path.write_bytes(b"\x80\x04\x95" + b"\0" * 60)
    with pytest.raises(CheckpointError, match="looks like a pickle file"):
        wg.load(path)


_ALL_DTYPES = [*NP, "BF16", "F8_E4M3", "C64", "X9", ""]


@st.composite
def _crafted(draw):
    """A valid safetensors file, then (often) one mutation of its header, length or body."""
    header, body = {}, b""
    for i in range(draw(st.integers(0, 3))):
        dt = draw(st.sampled_from(sorted(NP)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(NP[dt]).itemsize
        header[f"t{i}"] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + size]}
        body += draw(st.binary(min_size=size, max_size=size))
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2))
    names = [k for k in header if k != "__metadata__"]
    mutation = draw(st.sampled_from(["none", "dtype", "shape", "offsets", "length", "truncate", "append", "nest",
                                     "bigint", "tree"]))
    length = None
    if mutation == "dtype" and names:
        header[draw(st.sampled_from(names))]["dtype"] = draw(st.sampled_from(_ALL_DTYPES))
    elif mutation == "shape" and names:
        header[draw(st.sampled_from(names))]["shape"] = draw(st.lists(st.integers(-3, 2**62), max_size=4))
    elif mutation == "offsets" and names:
        header[draw(st.sampled_from(names))]["data_offsets"] = draw(st.lists(st.integers(-3, 200), max_size=3))
    elif mutation == "length":
        length = draw(st.integers(0, 2**64 - 1))
    elif mutation == "truncate":
        body = body[: draw(st.integers(0, max(0, len(body) - 1)))]
    elif mutation == "append":
        body += draw(st.binary(min_size=1, max_size=16))
    elif mutation == "nest":
        header[draw(st.sampled_from([*names, "x"]))] = json.loads("[" * 300 + "]" * 300)
    elif mutation == "bigint" and names:
        header[draw(st.sampled_from(names))]["data_offsets"][1] = 10 ** draw(st.integers(19, 400))
    elif mutation == "tree":
        header.setdefault("__metadata__", {})["wengert.tree"] = draw(st.sampled_from(
            ["{}", "[]", '{"dict":[]}', '{"dict":[["a",{"value":[1]}]]}', '{"list":[]}', "{" * 40, "null",
             '{"dict":[["t0",{"tensor":"t0"}]]}', '{"dict":[[1,{"value":1.5}]]}']))
    text = json.dumps(header).encode().ljust(draw(st.integers(0, 40)) + len(json.dumps(header)))
    return _file(text, body, length=length)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=_crafted())
def test_fuzz_crafted_files_load_correctly_or_raise_checkpoint_error(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.safetensors")
        with open(path, "wb") as fh:
            fh.write(blob)
        try:
            state = wg.load(path)
        except CheckpointError:
            return
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8: 8 + n])
    body = blob[8 + n:]
    tree = header.get("__metadata__", {}).get("wengert.tree")
    flat = state if tree is None else _leaves(state)
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert set(flat) == set(tensors)
    for name, info in tensors.items():
        start, end = info["data_offsets"]
        expected = np.frombuffer(body[start:end], dtype=NP[info["dtype"]]).reshape(info["shape"])
        got = flat[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape and got.tobytes() == expected.tobytes()


def _leaves(state, prefix=""):
    out = {}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    for k, v in items:
        name = f"{prefix}{k}"
        if isinstance(v, np.ndarray):
            out[name] = v
        else:
            out.update(_leaves(v, name + "."))
    return out


# ------------------------------------------------------------------ issue 13: a whole run in one file
def test_a_whole_run_round_trips_with_its_structure(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    opt = optim.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        (net(np.ones((5, 3), np.float32)) ** 2).sum().backward()
        opt.step()
    run = {"model": net.state_dict(), "optim": opt.state_dict(), "epoch": 3, "best": 0.25, "tag": "warm-up",
           "done": False, "parent": None, "history": [{"epoch": 1, "loss": 1.5}, {"epoch": 2, "loss": float("nan")}],
           "betas": (0.9, 0.999), "step": np.int64(7)}
    path = tmp_path / "run.safetensors"
    wg.save(run, path, metadata={"who": "test"})
    back, meta = wg.load(path, with_metadata=True)
    assert meta == {"who": "test"}
    assert list(back) == list(run)
    assert (back["epoch"], back["best"], back["tag"], back["done"], back["parent"]) == (3, 0.25, "warm-up", False, None)
    assert isinstance(back["epoch"], int) and back["betas"] == (0.9, 0.999) and isinstance(back["betas"], tuple)
    assert back["history"][0] == {"epoch": 1, "loss": 1.5} and np.isnan(back["history"][1]["loss"])
    assert back["step"].dtype == np.int64 and back["step"] == 7
    assert list(back["optim"]["state"]) == [0, 1, 2, 3] and back["optim"]["type"] == "Adam"
    net2 = nn.Sequential(nn.Linear(3, 4, rng=5), nn.ReLU(), nn.Linear(4, 2, rng=6))
    opt2 = optim.Adam(net2.parameters(), lr=0.5)
    net2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optim"])
    for o in (opt, opt2):
        o.zero_grad()
    for n, o in ((net, opt), (net2, opt2)):
        (n(np.ones((5, 3), np.float32)) ** 2).sum().backward()
        o.step()
    for (k, a), (_, b) in zip(net.state_dict().items(), net2.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    from safetensors.numpy import load_file  # any safetensors reader sees the tensors by their paths

    assert {"model.0.weight", "optim.state.0.exp_avg", "step"} <= set(load_file(str(path)))


def test_optimizer_state_of_another_type_is_a_clear_error():
    w = nn.Parameter(np.ones(2, np.float32))
    adam = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    adam.step()
    state = adam.state_dict()
    with pytest.raises(ValueError, match="the state was saved by Adam, not SGD; build an Adam"):
        optim.SGD([w], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="saved by Adam, not AdamW"):
        optim.AdamW([w]).load_state_dict(state)
    untyped = {k: v for k, v in state.items() if k != "type"}  # a state without its type: the names decide
    with pytest.raises(ValueError, match=r"parameter group 0 lacks SGD's hyperparameters \['dampening', 'momentum'"):
        optim.SGD([w], lr=0.1).load_state_dict(untyped)
    sgd = optim.SGD([w], lr=0.1, momentum=0.9)
    partial = {**state, "type": "SGD", "param_groups": sgd.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"the state of parameter 0 has \['exp_avg', 'exp_avg_sq', 'step'\]"):
        sgd.load_state_dict(partial)
    broken = adam.state_dict()
    broken["state"][0]["exp_avg"] = np.array([1e300, 0.0])
    before = {k: v.copy() for k, v in adam.state[0].items() if k != "step"}
    with pytest.raises(ValueError, match="state 0.exp_avg: values up to 1e\\+300 do not fit float32"):
        adam.load_state_dict(broken)
    np.testing.assert_array_equal(adam.state[0]["exp_avg"], before["exp_avg"])  # nothing changed


def test_optimizer_state_with_keys_a_scheduler_added_loads_before_the_scheduler_exists():
    w = nn.Parameter(np.ones(2))
    opt = optim.Adam([w], lr=0.1)
    optim.OneCycleLR(opt, max_lr=0.5, total_steps=10)  # adds initial_lr, max_lr, min_lr to the group
    (w * w).sum().backward()
    opt.step()
    fresh = optim.Adam([nn.Parameter(np.ones(2))], lr=0.1)
    fresh.load_state_dict(opt.state_dict())  # as PyTorch: the group comes back whole
    assert fresh.param_groups[0]["max_lr"] == 0.5 and fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
