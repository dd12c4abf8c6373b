"""Smoke test of the benchmark harness: the runner, W1 and W4 in --quick mode, wengert only.

Benchmarks measure, tests assert: nothing here looks at a timing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"_smoke_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    md, rows = out / "RESULTS.md", out / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--only", "w1,w4", "--libs", "wengert",
         "--timeout", "120", "--out", str(md), "--json", str(rows)],
        capture_output=True, text=True, timeout=300, cwd=str(ROOT), check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return md.read_text(), json.loads(rows.read_text()), proc.stdout


def test_runner_writes_both_tables(quick_run):
    text, rows, stdout = quick_run
    assert "## W1" in text and "## W4" in text
    assert "Machine:" in text and "Library versions:" in text
    assert text.strip() in stdout  # printed as well as written
    libs = {(r["workload"], r["lib"]) for r in rows}
    assert {("w1_scalar_mlp", "wengert"), ("w1_scalar_mlp", "wengert_nogc"), ("w4_deep_chain", "wengert")} <= libs
    assert all(r["lib"].startswith("wengert") for r in rows)  # --libs wengert selects wengert and its variants


def test_w1_row(quick_run):
    _, rows, _ = quick_run
    row = next(r for r in rows if r["workload"] == "w1_scalar_mlp" and r["lib"] == "wengert")
    assert row["status"] == "ok", row
    w1 = _load("w1_scalar_mlp")
    assert row["op_nodes_measured"] == w1.OPS_PER_STEP
    assert row["gc_unreachable_after_steps"] == 0  # the graph has no reference cycles
    assert row["loss_step1"] == pytest.approx(854.290041, rel=1e-8)  # the peers' figure
    assert row["loss_step2"] == pytest.approx(76.802963, rel=1e-7)
    for key in ("step_s", "fwd_s", "bwd_s", "us_per_op_node", "peak_rss_mb"):
        assert row[key] > 0


def test_w4_rows(quick_run):
    _, rows, _ = quick_run
    row = next(r for r in rows if r["workload"] == "w4_deep_chain")
    assert row["status"] == "ok", row
    runs = row["runs"]
    assert [r["n"] for r in runs] == [1_000, 10_000]
    for run in runs:
        assert run["status"] == "ok", run
        assert run["y_ok"] and run["grad_ok"]
        assert run["fwd_s"] > 0 and run["bwd_s"] > 0


def test_one_json_line_per_process():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "w4_deep_chain.py"), "--lib", "wengert", "--n", "300", "--quick"],
        capture_output=True, text=True, timeout=60, cwd=str(ROOT), check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["lib"] == "wengert" and row["status"] == "ok" and row["n"] == 300


def test_tables_render_missing_and_crash_rows():
    rows = [{"lib": "micrograd", "status": "missing: micrograd not importable"},
            {"lib": "torch", "status": "crash: timeout after 5 s"}]
    for name in ("w1_scalar_mlp", "w4_deep_chain"):
        text = _load(name).table(rows)
        assert "missing: micrograd not importable" in text and "crash: timeout after 5 s" in text


def test_runner_turns_failures_into_rows(tmp_path):
    run = _load("run")
    crash = tmp_path / "w9_crash.py"
    crash.write_text("import sys\nsys.exit('boom')\n")
    row = run.run_one(crash, "x", quick=True, timeout=30)
    assert row["lib"] == "x" and row["status"].startswith("crash: exit code 1: boom")
    slow = tmp_path / "w9_slow.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    row = run.run_one(slow, "x", quick=True, timeout=0.5)
    assert row["status"] == "crash: timeout after 0.5 s"
    missing = tmp_path / "w9_missing.py"
    missing.write_text('print(\'{"lib": "x", "status": "missing: not installed"}\')\n')
    assert run.run_one(missing, "x", quick=True, timeout=30)["status"] == "missing: not installed"


def test_partial_run_keeps_other_sections(tmp_path):
    run = _load("run")
    old = tmp_path / "RESULTS.md"
    old.write_text("# wengert benchmarks\n\nRun 2026-01-01 10:00 UTC, full\n\n## W1 — one\n\nold w1\n\n## W9 — nine\n\nold w9\n")
    kept = run.kept_sections(old, {"W1"})
    assert list(kept) == ["W9"]
    assert "old w9" in kept["W9"] and "kept from the run of 2026-01-01 10:00 UTC" in kept["W9"]


def test_snapshot_of_a_commit(tmp_path):
    run = _load("run")
    short = run.snapshot("HEAD", tmp_path)
    assert short and (tmp_path / "benchmarks" / "run.py").is_file() and (tmp_path / "wengert" / "__init__.py").is_file()


def test_gradient_checkpointing_script_runs_and_gives_the_same_gradients():
    proc = subprocess.run([sys.executable, str(BENCH / "gradient_checkpointing.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT), check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "same gradients: True" in proc.stdout and "wg.checkpoint" in proc.stdout


def test_j_workloads_run_quick_for_wengert():
    for script in ("j1_jacobians", "j2_per_example"):
        proc = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), "--lib", "wengert", "--quick"],
                              capture_output=True, text=True, timeout=300, cwd=str(BENCH), check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        assert rec["status"] == "ok", rec
        assert max(v for k, v in rec.items() if k.endswith("relerr") or k == "mean_abs_err") < 1e-10, rec
