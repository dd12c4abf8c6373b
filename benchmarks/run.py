"""Run the benchmark workloads side by side and write benchmarks/results/RESULTS.md.

Each workload script ``benchmarks/w*_*.py`` or ``j*_*.py`` defines ``LIBS`` and ``table(rows)``;
run with ``--lib NAME`` it measures one library and prints one JSON line (see
``benchmarks/README.md``).  This runner runs every (workload, library) pair in
a fresh subprocess, one after the other, with a timeout, collects the rows and
renders one Markdown section per workload.

    python benchmarks/run.py [--only w1,w4] [--libs wengert,torch] [--quick] [--timeout S]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import TIMEOUT_ENV, md_table


# ------------------------------------------------------------------ discovery
def discover(only: list | None, bench_dir: Path = HERE) -> list:
    """The workload scripts ``w*_*.py`` then ``j*_*.py`` in order, filtered by id (``w1``, ``j1``) or stem."""
    scripts = sorted([*bench_dir.glob("w*_*.py"), *bench_dir.glob("j*_*.py")], key=lambda p: _order(p.stem))
    if only:
        scripts = [p for p in scripts if p.stem.split("_")[0] in only or p.stem in only]
    return scripts


def _order(stem: str) -> tuple:
    head = stem.split("_")[0]
    return (head[0] != "w", int(head[1:]) if head[1:].isdigit() else 10**6, stem)


def load(script: Path):
    """Import a workload script as a module (for LIBS, table() and its docstring)."""
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("LIBS", "table"):
        if not hasattr(module, name):
            raise AttributeError(f"{script.name} defines no {name}")
    return module


def select(libs: list, wanted: list | None) -> list:
    """Libraries of a workload selected by --libs: a name selects itself and its variants
    (``wengert`` selects ``wengert`` and ``wengert_nogc``, ``torch`` selects ``torch0d``)."""
    if not wanted:
        return list(libs)
    return [lib for lib in libs if any(lib.startswith(w) for w in wanted)]


# ------------------------------------------------------------------ one process
def run_one(script: Path, lib: str, quick: bool, timeout: float) -> dict:
    """Run one (workload, lib) in a fresh process; always returns a row with lib and status."""
    cmd = [sys.executable, str(script), "--lib", lib] + (["--quick"] if quick else [])
    env = dict(os.environ)
    env[TIMEOUT_ENV] = str(timeout)
    root = script.resolve().parent.parent  # the tree the script belongs to (a --rev snapshot or this one)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(root), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return {"lib": lib, "status": f"crash: timeout after {timeout:g} s", "wall_s": time.perf_counter() - t0}
    row = _json_line(out)
    if row is None:
        tail = (err or "").strip().splitlines()[-1:] or ["no output"]
        return {"lib": lib, "status": f"crash: exit code {proc.returncode}: {tail[0][:300]}",
                "wall_s": time.perf_counter() - t0}
    row["lib"] = lib
    row.setdefault("status", "ok")
    return row


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _json_line(out: str) -> dict | None:
    for line in reversed((out or "").strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                return row
    return None


# ------------------------------------------------------------------ report
def snapshot(rev: str, into: Path) -> str:
    """Extract the committed tree at ``rev`` into ``into`` (``git archive``), so that a run
    measures that commit and not whatever is being edited in the working tree.  Returns the
    short commit hash."""
    short = subprocess.run(["git", "rev-parse", "--short", rev], cwd=str(ROOT), capture_output=True, text=True,
                           check=True).stdout.strip()
    data = subprocess.run(["git", "archive", "--format=tar", short], cwd=str(ROOT), capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python without extraction filters: git archive output has no links out of the tree
            tar.extractall(into)
    return short


def machine_info(rev: str | None = None) -> dict:
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__}
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["memory"] = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    if rev is not None:
        info["wengert commit"] = f"{rev} (a clean snapshot of it)"
        return info
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=str(ROOT), capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "wengert", "benchmarks"], check=False,
                               cwd=str(ROOT), capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            info["wengert commit"] = head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def section(name: str, module, rows: list) -> str:
    title = name
    doc = (getattr(module, "__doc__", None) or "").strip()
    if doc:
        first = doc.splitlines()[0].rstrip(".")
        if first.upper().startswith(name + ":"):
            first = first[len(name) + 1:].strip()
        title = f"{name} — {first}"
    try:
        body = module.table(rows)
    except Exception as exc:
        body = (f"table() failed ({type(exc).__name__}: {exc}); raw status:\n\n"
                + md_table(["lib", "status"], [[r.get("lib"), r.get("status")] for r in rows]))
    return f"## {title}\n\n{body}\n"


def report(sections: list, rows: list, args: argparse.Namespace, started: str, load_start: str,
           rev: str | None = None) -> str:
    info = machine_info(rev)
    info["load average at start / end"] = f"{load_start} / {_load()}"
    versions: dict = {}
    for row in rows:
        for k, v in (row.get("versions") or {}).items():
            versions.setdefault(k, v)
    mode = "quick (small sizes: smoke test, not for comparison)" if args.quick else "full"
    lines = [
        "# wengert benchmarks",
        "",
        (f"Run {started} UTC, {mode}; every (workload, library) in a fresh process, one after the other, "
         f"timeout {args.timeout:g} s each. Compare ratios within this run; gaps under ~1.5x are noise."),
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "Library versions: " + (", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "–"),
        "",
    ]
    return "\n".join(lines) + "\n" + "\n".join(sections)


def kept_sections(path: Path, replaced: set) -> dict:
    """The sections of an earlier results file for workloads this run did not measure
    (``--only``), each marked with the date of the run that measured it."""
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    when = "an earlier run"
    for line in old.splitlines():
        if line.startswith("Run ") and " UTC" in line:
            when = "the run of " + line[4:line.index(" UTC")] + " UTC"
            break
    kept = {}
    for chunk in old.split("\n## ")[1:]:
        name = chunk.split()[0]
        if name in replaced or name[:1] != "W":
            continue
        body = chunk.rstrip("\n")
        marker = f"_(kept from {when}; machine and versions may differ from the header)_"
        if "_(kept from " not in body:
            title, _, rest = body.partition("\n")
            body = f"{title}\n\n{marker}\n{rest}"
        kept[name] = "## " + body + "\n"
    return kept


def _load() -> str:
    """1-minute load average: above the core count, other processes shared the CPUs."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".md", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------ main
def run_all(scripts: list, wanted: list | None, args: argparse.Namespace) -> tuple:
    """Run every selected (workload, lib); returns ({workload id: Markdown section}, all rows)."""
    if not scripts:
        print(f"no workload scripts match {args.only!r}", file=sys.stderr)
    sections: dict = {}
    all_rows: list = []
    for script in scripts:
        name = script.stem.split("_")[0].upper()
        try:
            module = load(script)
        except Exception as exc:
            print(f"{script.name}: cannot load ({type(exc).__name__}: {exc}); skipped", file=sys.stderr)
            sections[name] = f"## {name}\n\n{script.name} could not be loaded: {type(exc).__name__}: {exc}\n"
            continue
        rows = []
        for lib in select(module.LIBS, wanted):
            print(f"{script.stem} --lib {lib} ...", end=" ", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            row = run_one(script, lib, args.quick, args.timeout)
            row["workload"] = script.stem
            print(f"{row['status'][:100]} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
            rows.append(row)
        if rows:
            sections[name] = section(name, module, rows)
            all_rows.extend(rows)
    return sections, all_rows


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated workload ids, e.g. w1,w4")
    ap.add_argument("--libs", help="comma-separated library names; a name also selects its variants")
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per (workload, library) process")
    ap.add_argument("--out", help="Markdown output (default benchmarks/results/RESULTS.md, "
                                  "RESULTS-quick.md with --quick)")
    ap.add_argument("--json", help="also write all collected rows to this JSON file")
    ap.add_argument("--rev", help="measure this commit (a clean snapshot of it) instead of the working tree")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    wanted = [s.strip() for s in args.libs.split(",") if s.strip()] if args.libs else None
    out = Path(args.out) if args.out else HERE / "results" / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_start = _load()

    with tempfile.TemporaryDirectory(prefix="wengert-bench-") as tmp:
        rev = snapshot(args.rev, Path(tmp)) if args.rev else None
        bench_dir = Path(tmp) / "benchmarks" if rev else HERE
        sections, all_rows = run_all(discover(only, bench_dir), wanted, args)
    kept = kept_sections(out, set(sections))
    ordered = [text for _, text in sorted({**kept, **sections}.items(), key=lambda kv: _order(kv[0].lower()))]
    text = report(ordered, all_rows, args, started, load_start, rev)
    write_atomic(out, text)
    if args.json:
        write_atomic(Path(args.json), json.dumps(all_rows, indent=1))
    print(text)
    print(f"written: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
