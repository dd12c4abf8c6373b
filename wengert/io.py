"""Checkpoints in the safetensors format: ``wg.save(state_dict, path)`` / ``wg.load(path)``.

A safetensors file is a JSON header (names, dtypes, shapes, offsets) followed
by raw little-endian numbers.  Loading one parses JSON and copies bytes: it
can never run code, unlike pickle (which wengert never uses).  Writes are
atomic: the bytes go to a temporary file in the same directory, which is
flushed to disk and then renamed over the target, so a crash mid-save leaves
the previous checkpoint intact.

>>> import os, tempfile, numpy as np, wengert as wg
>>> from wengert import nn
>>> net = nn.Linear(3, 2, rng=0)
>>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
>>> _ = wg.save(net.state_dict(), path, metadata={"epoch": "3"})
>>> state, meta = wg.load(path, with_metadata=True)
>>> sorted(state), meta["epoch"]
(['bias', 'weight'], '3')
>>> nn.Linear(3, 2, rng=1).load_state_dict(state)
([], [])
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .core.tensor import Tensor

_MAX_HEADER = 100 * 2**20  # a header larger than this is not a checkpoint we wrote
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that is not a readable safetensors checkpoint (truncated, corrupted or foreign)."""


def _to_array(key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str):
        raise TypeError(f"save: keys must be strings, got {type(key).__name__} {key!r}")
    if isinstance(value, Tensor):
        value = value.data
    elif isinstance(value, (int, float, bool, np.generic)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"save: value of {key!r} is a {type(value).__name__}; only arrays, tensors and numbers "
                        "can be saved (no arbitrary objects: checkpoints are never pickled)")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"save: value of {key!r} has dtype {value.dtype}; only bool, integer and float arrays "
                        "can be saved")
    return value if value.flags.c_contiguous else value.copy(order="C")  # (ascontiguousarray would make 0-d 1-d)


def save(state: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> Path:
    """Write a dict of arrays (or tensors) to ``path`` in the safetensors format, atomically.

    ``metadata`` is an optional dict of strings stored in the header.
    Returns the path written.
    """
    from safetensors.numpy import save as st_save

    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a dict of arrays (e.g. model.state_dict()), got {type(state).__name__}")
    arrays = {k: _to_array(k, v) for k, v in state.items()}
    meta = None
    if metadata is not None:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"save: metadata must map strings to strings, got {k!r}: {type(v).__name__}")
            meta[k] = v
    blob = st_save(arrays, metadata=meta)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"save: directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _header(blob: bytes, path: str) -> dict:
    """Parse and check the JSON header, with an error that says what is wrong with the file."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: not a valid safetensors checkpoint: {why}")

    if blob.startswith(_PICKLE_MAGIC):
        return_error = bad("it looks like a pickle file (e.g. a PyTorch .pt); wengert never unpickles, "
                           "convert it to safetensors with a tool you trust")
        raise return_error
    if blob.startswith(_ZIP_MAGIC):
        raise bad("it is a zip archive (e.g. a PyTorch .pt or a NumPy .npz), not safetensors")
    if len(blob) < 8:
        raise bad(f"the file has {len(blob)} bytes, fewer than the 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER:
        raise bad(f"the header length field says {n} bytes, which is implausible (corrupted or foreign file)")
    if 8 + n > len(blob):
        raise bad(f"the header says {n} bytes but the file has only {len(blob) - 8} after the length (truncated)")
    try:
        header = json.loads(blob[8: 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    body = len(blob) - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise bad(f"entry {key!r} has no valid data_offsets") from None
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise bad(f"entry {key!r} has invalid data_offsets {info.get('data_offsets')}")
        if end > body:
            raise bad(f"entry {key!r} needs bytes up to {end} but the data section has {body} (truncated)")
    return header


def load(path: str | os.PathLike, with_metadata: bool = False) -> Any:
    """Read a safetensors file into a dict of NumPy arrays (``(arrays, metadata)`` with ``with_metadata=True``).

    A truncated, corrupted or foreign file (pickle, zip, random bytes) raises
    :class:`CheckpointError` that says what is wrong; nothing in the file is
    ever executed.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}")
    if path.is_dir():
        raise IsADirectoryError(f"load: {str(path)!r} is a directory, not a checkpoint file")
    blob = path.read_bytes()
    header = _header(blob, str(path))
    try:
        arrays = st_load(blob)
    except (SafetensorError, ValueError, TypeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors checkpoint: {exc}") from None
    arrays = {k: np.array(v) for k, v in arrays.items()}  # own, writable copies
    if with_metadata:
        meta = header.get("__metadata__") or {}
        return arrays, dict(meta)
    return arrays


__all__ = ["CheckpointError", "load", "save"]
