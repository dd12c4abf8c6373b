"""Checkpoints in the safetensors format: ``wg.save(state, path)`` / ``wg.load(path)``.

A safetensors file is a JSON header (names, dtypes, shapes, offsets, and a
dict of strings called metadata) followed by raw little-endian numbers.
Loading one parses JSON and copies bytes: it can never run code, unlike
pickle (which wengert never uses).

A whole run fits in one file: ``state`` may nest dicts, lists and tuples,
and hold Python numbers, strings, booleans and None next to the arrays.
The arrays are stored as tensors named by their paths (``model.0.weight``,
``optim.state.0.exp_avg``), so any safetensors reader sees them; the
structure and the plain values are stored as JSON in the metadata entry
``wengert.tree``, and ``wg.load`` gives back the same structure.

>>> import os, tempfile, numpy as np, wengert as wg
>>> from wengert import nn, optim
>>> net = nn.Linear(3, 2, rng=0)
>>> opt = optim.Adam(net.parameters(), lr=0.01)
>>> path = os.path.join(tempfile.mkdtemp(), "run.safetensors")
>>> _ = wg.save({"model": net.state_dict(), "optim": opt.state_dict(), "epoch": 3, "note": "warm-up"}, path)
>>> run = wg.load(path)
>>> sorted(run["model"]), run["epoch"], run["note"]
(['bias', 'weight'], 3, 'warm-up')
>>> nn.Linear(3, 2, rng=1).load_state_dict(run["model"])
([], [])

Writes are atomic and careful: the bytes go to a temporary file
``.NAME.XXXXXXXX.tmp`` next to the target, are flushed to disk and renamed
over it, so a crash mid-save leaves the previous checkpoint intact.  Only
regular files are written: a symlink is followed (the file it points to is
replaced, the link stays), while a directory, FIFO, device or socket at the
path, or a write-protected file, is refused.  A new file gets the mode the
umask gives (as ``open`` would); a replaced file keeps its mode.  A process
killed mid-save (``kill -9``) leaves its temporary file behind; the next
save to the same target deletes such leftovers (a temporary file that
another live process is still writing is locked, and left alone).
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .core.tensor import Tensor

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: an open file cannot be deleted there, which is lock enough
    fcntl = None

INSTALL_HINT = "pip install 'wengert[nn]'"
#: The metadata entry that holds the structure of a nested state and its plain values.
TREE_KEY = "wengert.tree"
#: The deepest nesting of dicts, lists and tuples that ``save`` writes and ``load`` reads.
MAX_DEPTH = 64

# the dtypes NumPy and safetensors share (safetensors' BF16, F8_* and C64 have no NumPy or wengert use)
_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16", "uint32": "U32",
           "int32": "I32", "uint64": "U64", "int64": "I64", "float16": "F16", "float32": "F32", "float64": "F64"}
_LOADABLE = frozenset(_DTYPES.values())
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that is not a readable safetensors checkpoint (truncated, corrupted or foreign)."""


def require_safetensors(who: str) -> Any:
    """The ``safetensors`` module, or a ``ModuleNotFoundError`` that names the install command."""
    try:
        import safetensors
        import safetensors.numpy  # (the writer)
    except ImportError:
        raise ModuleNotFoundError(f"{who} needs the safetensors package (checkpoints are safetensors files): "
                                  f"{INSTALL_HINT}", name="safetensors") from None
    return safetensors


# ------------------------------------------------------------------ the structure of a nested state
def _flatten(state: Mapping) -> tuple[dict, dict]:
    """(arrays by tensor name, the tree as JSON-ready data); raises TypeError/ValueError before anything is written."""
    arrays: dict[str, np.ndarray] = {}

    def leaf_name(path: tuple) -> str:
        name = ".".join(str(k) for k in path)
        if name == "__metadata__":
            raise ValueError("save: '__metadata__' is reserved by the safetensors format (it holds the metadata); "
                             "rename that entry, or pass strings with metadata=")
        if name in arrays:
            raise ValueError(f"save: two entries would both be stored as tensor {name!r} (keys are joined with "
                             "'.'); rename one of them")
        return name

    def encode(value: Any, path: tuple, depth: int) -> dict:
        where = ".".join(str(k) for k in path) or "the state"
        if depth > MAX_DEPTH:
            raise ValueError(f"save: {where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, Mapping):
            items = []
            for k, v in value.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(f"save: keys must be strings (or integers), got {type(k).__name__} {k!r} "
                                    f"in {where}")
                items.append([k, encode(v, (*path, k), depth + 1)])
            return {"dict": items}
        if isinstance(value, (list, tuple)):
            kind = "tuple" if isinstance(value, tuple) else "list"
            return {kind: [encode(v, (*path, i), depth + 1) for i, v in enumerate(value)]}
        if value is None or isinstance(value, (bool, str)):
            return {"value": value}
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return {"value": float(value) if isinstance(value, float) else int(value)}
        array = _to_array(where, value)
        name = leaf_name(path)
        arrays[name] = array
        return {"tensor": name}

    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a dict of arrays (e.g. model.state_dict()), got {type(state).__name__}")
    if "__metadata__" in state:
        leaf_name(("__metadata__",))  # (raises: the name is reserved whatever the value)
    tree = encode(state, (), 0)
    return arrays, tree


def _to_array(where: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"save: {where} is a {type(value).__name__}; only arrays, tensors, numbers, strings, None "
                        "and dicts/lists of them can be saved (no arbitrary objects: checkpoints are never pickled)")
    if value.dtype.name not in _DTYPES:
        raise TypeError(f"save: {where} has dtype {value.dtype}; only bool, integer and float (16, 32, 64-bit) arrays "
                        "can be saved")
    return value if value.flags.c_contiguous else value.copy(order="C")  # (ascontiguousarray would make 0-d 1-d)


def _unflatten(tree: Any, arrays: dict, where: str) -> Any:
    """Rebuild the saved structure from the tree of a file, checking every part of it."""
    used: set[str] = set()

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where}: the {TREE_KEY} metadata is damaged: {why}")

    def decode(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise bad(f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or len(node) != 1:
            raise bad(f"expected one tagged entry, got {_short(node)}")
        (tag, body), = node.items()
        if tag == "tensor":
            if not isinstance(body, str) or body not in arrays or body in used:
                raise bad(f"tensor {_short(body)} is not in the file (or named twice)")
            used.add(body)
            return arrays[body]
        if tag == "value":
            if body is not None and not isinstance(body, (bool, int, float, str)):
                raise bad(f"value {_short(body)} is not a number, string, boolean or null")
            return body
        if tag in ("list", "tuple") and isinstance(body, list):
            items = [decode(v, depth + 1) for v in body]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict" and isinstance(body, list):
            out = {}
            for item in body:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                        and not isinstance(item[0], bool)):
                    raise bad(f"dict item {_short(item)} is not a [key, value] pair")
                out[item[0]] = decode(item[1], depth + 1)
            return out
        raise bad(f"unknown entry {_short(node)}")

    result = decode(tree, 0)
    if not isinstance(result, dict):
        raise bad("the top level is not a dict")
    if used != set(arrays):
        raise bad(f"tensors {sorted(set(arrays) - used)[:5]} are not part of it")
    return result


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:30] + "..." + s[-6:]


# ------------------------------------------------------------------ saving
def save(state: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``state`` (a dict of arrays or tensors, possibly nested) to ``path`` in the safetensors format, atomically.

    ``state`` may nest dicts (string or integer keys), lists and tuples, and
    hold Python numbers, strings, booleans and None; ``wg.load`` gives the
    same structure back.  ``metadata`` is an optional dict of strings stored
    in the header.  Everything is checked before the file is touched.
    Returns the path written.

    >>> import os, tempfile, numpy as np, wengert as wg
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> _ = wg.save({"w": np.eye(2), "__metadata__": {"x": 1}}, path)
    Traceback (most recent call last):
    ...
    ValueError: save: '__metadata__' is reserved by the safetensors format (it holds the metadata); rename that entry, or pass strings with metadata=
    """
    safetensors = require_safetensors("wg.save")
    from safetensors.numpy import save_file

    arrays, tree = _flatten(state)
    meta = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save: metadata must map strings to strings, got {k!r}: {type(v).__name__}")
        if k == TREE_KEY:
            raise ValueError(f"save: the metadata key {TREE_KEY!r} is reserved (it holds the state's structure)")
        meta[k] = v
    meta[TREE_KEY] = json.dumps(tree, allow_nan=True, separators=(",", ":"))
    target = _target(path)
    directory = target.parent
    _remove_stale_temporaries(target)
    fd, tmp = _locked_temporary(target)
    try:
        try:
            save_file(arrays, tmp, metadata=meta)
            os.chmod(tmp, _mode_for(target))
            os.fsync(fd)
            os.replace(tmp, target)  # atomic on POSIX and Windows: readers see the old file or the new one
        except (OSError, safetensors.SafetensorError) as exc:
            raise _write_error(target, exc) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        os.close(fd)  # (releases the lock)
    _fsync_dir(directory)
    return Path(path)


def _target(path: str | os.PathLike) -> Path:
    """The regular file that ``save`` will replace or create (symlinks followed), or a clear error."""
    if isinstance(path, str) and not path.strip():
        raise ValueError("save: the path is empty; give a file name such as 'model.safetensors'")
    given = Path(path)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if target.is_symlink():  # realpath stops at a loop
        raise OSError(f"save: {str(given)!r} is a symlink loop; remove it or save elsewhere")
    directory = target.parent
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a directory"
        raise FileNotFoundError(f"save: cannot write {str(given)!r}: directory {str(directory)!r} {what}")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    via = f" (the target of symlink {str(given)!r})" if target != given else ""
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        err = IsADirectoryError if kind == "a directory" else OSError
        raise err(f"save: {str(target)!r}{via} is {kind}, not a regular file; save to a file path instead")
    if not os.access(target, os.W_OK) or not st.st_mode & 0o222:
        raise PermissionError(f"save: {str(target)!r}{via} is write-protected (mode {stat.S_IMODE(st.st_mode):04o}); "
                              "make it writable (chmod u+w) or save elsewhere")
    return target


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _temporary_pattern(target: Path) -> re.Pattern:
    # what tempfile.mkstemp(prefix=".NAME.", suffix=".tmp") makes: 8 characters of [a-z0-9_]
    return re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}" + re.escape(".tmp"))


def _locked_temporary(target: Path) -> tuple[int, str]:
    """A new temporary file next to ``target``, locked (so no other save takes it for a leftover)."""
    for _ in range(5):
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise _write_error(target, exc) from None
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # a cleaner may have deleted it between mkstemp and flock: then start again
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)
    raise _write_error(target, OSError("could not create a temporary file"))


def _remove_stale_temporaries(target: Path) -> None:
    """Delete the temporary files of earlier saves to ``target`` that were killed mid-write."""
    pattern = _temporary_pattern(target)
    try:
        names = [n for n in os.listdir(target.parent) if pattern.fullmatch(n)]
    except OSError:
        return
    for name in names:
        leftover = target.parent / name
        try:
            fd = os.open(leftover, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # another process is writing it now
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.stat(leftover).st_ino == os.fstat(fd).st_ino:
                os.unlink(leftover)
        except OSError:
            pass
        finally:
            os.close(fd)


def _mode_for(target: Path) -> int:
    """The mode of the file being replaced, or what the umask gives a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux tells it without changing it (os.umask would, for a moment, for every thread)
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_error(target: Path, exc: Exception) -> OSError:
    """The same kind of error, naming the target (not the temporary file) and saying the old file is intact."""
    reason = getattr(exc, "strerror", None) or str(exc)
    kept = " (the previous file is unchanged)" if target.exists() else ""
    err = (type(exc) if isinstance(exc, OSError) else OSError)(f"save: cannot write {str(target)!r}: {reason}{kept}")
    err.errno = getattr(exc, "errno", None)
    return err


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


# ------------------------------------------------------------------ loading
def load(path: str | os.PathLike, with_metadata: bool = False, *, weights_only: bool = True,
         map_location: Any = None) -> Any:
    """Read a safetensors file into a dict of NumPy arrays (``(state, metadata)`` with ``with_metadata=True``).

    A file written by :func:`save` comes back with its structure (nested
    dicts, lists, numbers, strings); any other safetensors file comes back
    as a flat dict of arrays, in file order.  The header is checked by
    safetensors' own parser (bounded in size and depth) before any tensor is
    read, and each tensor is read once into its own writable array.

    A truncated, corrupted or foreign file (pickle, zip, random bytes, a
    dtype NumPy lacks) raises :class:`CheckpointError` that says what is
    wrong; nothing in the file is ever executed.

    ``weights_only=True`` and ``map_location="cpu"`` (``torch.load``'s) are
    accepted: that is all wengert ever does.
    """
    if weights_only is not True:
        raise ValueError("load: weights_only=False has nothing to allow: a wengert checkpoint holds only arrays, "
                         "numbers and strings (safetensors), never code or pickled objects")
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise ValueError(f"load: map_location={map_location!r}: wengert computes on the CPU (NumPy), so only "
                         "None or 'cpu' make sense")
    safetensors = require_safetensors("wg.load")
    where = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no checkpoint at {where!r}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"load: {where!r} is a directory, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{where}: not a checkpoint: it is {_kind(st.st_mode)}, not a regular file")
    try:
        try:
            handle = safetensors.safe_open(path, framework="numpy", backend="pread")  # reads each tensor once
        except TypeError:  # pragma: no cover - safetensors before 0.6 has only the memory-mapped backend
            handle = safetensors.safe_open(path, framework="numpy")
        with handle as fh:
            meta = dict(fh.metadata() or {})
            names = list(fh.offset_keys())
            for name in names:
                dtype = fh.get_slice(name).get_dtype()
                if dtype not in _LOADABLE:
                    raise CheckpointError(f"{where}: tensor {name!r} has dtype {dtype}, which NumPy (and wengert) "
                                          "cannot hold; convert it to F32 with the tool that wrote it")
            arrays = {name: fh.get_tensor(name) for name in names}
    except CheckpointError:
        raise
    except safetensors.SafetensorError as exc:
        raise CheckpointError(f"{where}: not a valid safetensors checkpoint: {_reason(exc, path)}") from None
    except (OSError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise CheckpointError(f"{where}: cannot read the checkpoint: {type(exc).__name__}: {exc}") from None
    tree_text = meta.pop(TREE_KEY, None)
    if tree_text is None:
        state = arrays
    else:
        try:
            tree = json.loads(tree_text)
        except (ValueError, RecursionError) as exc:
            raise CheckpointError(f"{where}: the {TREE_KEY} metadata is damaged: {type(exc).__name__}") from None
        state = _unflatten(tree, arrays, where)
    return (state, meta) if with_metadata else state


def _reason(exc: Exception, path: str | os.PathLike) -> str:
    """safetensors' message, with what the first bytes of the file tell a user (a pickle? truncated?)."""
    text = str(exc).replace("Error while deserializing header: ", "")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return text
    if head.startswith(_PICKLE_MAGIC):
        return (f"{text}; it looks like a pickle file (e.g. a PyTorch .pt): wengert never unpickles, convert it "
                "to safetensors with a tool you trust")
    if head.startswith(_ZIP_MAGIC):
        return f"{text}; it is a zip archive (e.g. a PyTorch .pt or a NumPy .npz), not safetensors"
    if len(head) < 8:
        return f"{text}; the file has {size} bytes, fewer than the 8-byte header length (truncated?)"
    n = int.from_bytes(head, "little")
    if 8 + n > size:
        return f"{text}; the header length field says {n} bytes, the file has {size - 8} after it (truncated?)"
    if "fully covered" in text:
        return f"{text} (truncated, or bytes appended?)"
    return text


__all__ = ["MAX_DEPTH", "TREE_KEY", "CheckpointError", "load", "require_safetensors", "save"]
