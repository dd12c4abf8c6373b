"""Graph drawings: DOT source, rendering with Graphviz when installed, size limits, shading."""
from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import wengert as wg
from wengert.teach.draw import GraphTooLargeError, GraphvizNotFoundError

draw_mod = importlib.import_module("wengert.teach.draw")  # the module (wengert.teach.draw is also the function)
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed (apt-get install graphviz)")


def circuit():
    x = wg.tensor(-2.0, requires_grad=True)
    y = wg.tensor(5.0, requires_grad=True)
    z = wg.tensor(-4.0, requires_grad=True)
    q = x + y
    f = q * z
    return wg.draw(f)


def _structure(src: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A small DOT reader for our own output: node ids with attributes, and edges."""
    assert src.startswith("digraph wengert {") and src.rstrip().endswith("}")
    nodes = re.findall(r"^\s+(\w+) \[", src, flags=re.MULTILINE)
    edges = re.findall(r"^\s+(\w+) -> (\w+);", src, flags=re.MULTILINE)
    assert src.count("{") == src.count("}") + src.count("\\}") - src.count("\\{")
    return nodes, edges


def test_seed001_circuit_source():
    d = circuit()
    nodes, edges = _structure(d.source)
    values = [n for n in nodes if re.fullmatch(r"n\d+", n)]
    ops = [n for n in nodes if re.fullmatch(r"op\d+", n)]
    assert len(values) == 5 and len(ops) == 2
    assert len(edges) == 6  # x, y -> + -> q;  q, z -> * -> f
    for label in ("x | value -2 | grad -4", "y | value 5 | grad -4", "z | value -4 | grad 3",
                  "q | value 3 | grad -4", "f | value -12 | grad 1"):
        assert label in d.source
    assert 'label="+"' in d.source and 'label="*"' in d.source


def test_every_edge_joins_declared_nodes():
    W = wg.tensor(np.ones((2, 3)), requires_grad=True)
    x = wg.tensor([1.0, 2.0, 3.0])
    out = wg.sum(wg.sigmoid(W @ x) * 2.0)
    nodes, edges = _structure(wg.draw(out).source)
    for a, b in edges:
        assert a in nodes and b in nodes


@needs_dot
def test_dot_parses_and_renders(tmp_path):
    d = circuit()
    svg = tmp_path / "g.svg"
    png = tmp_path / "g.png"
    assert d.render(svg) == str(svg)
    assert "<svg" in svg.read_text()
    d.render(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    graphviz = pytest.importorskip("graphviz")
    assert b"<svg" in graphviz.Source(d.source).pipe(format="svg")


@needs_dot
def test_awkward_names_are_escaped():
    x = wg.tensor(1.0, requires_grad=True)
    x.name = 'a{b}|<c>"d\\'
    d = wg.draw(wg.exp(x))
    proc = subprocess.run(["dot", "-Tsvg"], input=d.source.encode(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()


def test_missing_dot_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(draw_mod.shutil, "which", lambda name: None)
    d = circuit()
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        d.render(tmp_path / "g.svg")
    assert d._repr_svg_() is None
    d.render(tmp_path / "g.dot")  # DOT text needs no program
    assert (tmp_path / "g.dot").read_text() == d.source


def test_size_limit_refuses_or_collapses():
    x = wg.tensor(0.5, requires_grad=True)
    h = x
    for _ in range(300):
        h = wg.sin(h)
    with pytest.raises(GraphTooLargeError, match="301 values.*collapse=True"):
        wg.draw(h)
    d = wg.draw(h, collapse=True, max_nodes=20)
    nodes, edges = _structure(d.source)
    assert len([n for n in nodes if re.fullmatch(r"n\d+", n)]) == 20
    assert "281 earlier values" in d.source and ("earlier", nodes[-1]) not in edges
    assert wg.draw(h, max_nodes=400).source.count("shape=record") == 301


def test_shading_by_gradient_magnitude():
    x = wg.tensor(3.0, requires_grad=True)
    h = x
    for _ in range(6):
        h = wg.sigmoid(h) * 0.1  # the gradient shrinks by >= 40x per step
    d = wg.draw(h)
    fills = dict(re.findall(r"^\s+(n\d+) \[.*fillcolor=\"(#[0-9a-f]{6})\"", d.source, flags=re.MULTILINE))
    out = max(fills, key=lambda n: int(n[1:]))
    assert fills[out] == "#bd0026"  # the largest |grad| (the output's 1) is the darkest
    assert fills["n0"] == "#ffffcc"  # the smallest is the lightest
    assert "log scale" in d.source


def test_grads_modes():
    x = wg.tensor(2.0, requires_grad=True)
    y = x * x
    assert "grad" not in wg.draw(y, grads="none").source.replace("fillcolor", "")
    y.backward(retain_graph=True)
    src = wg.draw(y, grads="grad").source
    assert "grad 4" in src  # x.grad after backward
    v = wg.draw(wg.tensor([1.0, 2.0], requires_grad=True) * 2.0).source  # not a scalar: values only
    assert "value [2, 4]" in v and "| grad" not in v
    with pytest.raises(ValueError, match="grads"):
        wg.draw(y, grads="all")
    with pytest.raises(TypeError, match="Tensor or a Trace"):
        wg.draw(3.0)


def test_draw_of_a_forward_trace_shows_tangents():
    t = wg.trace(lambda x, y: x * y + x, 2.0, 3.0, mode="forward", wrt="x")
    assert "d/dx 4" in t.draw().source  # d(xy + x)/dx = y + 1


# ---------------------------------------------------------------- notebook display hooks
def test_repr_without_dot_says_how_to_get_a_picture(monkeypatch):
    monkeypatch.setattr(draw_mod.shutil, "which", lambda name: None)
    d = circuit()
    text = repr(d)
    assert text.startswith("<Drawing: 6 edges. No picture: Graphviz's 'dot' program is not installed")
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz", "paste .source"):
        assert hint in text
    assert "\n" not in text and d._repr_svg_() is None


def _fake_dot(tmp_path, monkeypatch, script: str) -> None:
    exe = tmp_path / "dot"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")


def test_repr_svg_never_raises_when_dot_fails(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "echo 'Error: syntax error' >&2\nexit 3\n")
    d = circuit()
    assert d._repr_svg_() is None
    with pytest.raises(RuntimeError, match="dot failed with status 3: Error: syntax error"):
        d.pipe("svg")
    assert "No picture" not in repr(d)  # dot is there; it is the drawing that failed


def test_repr_svg_gives_up_on_a_slow_dot(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "exec sleep 30\n")
    monkeypatch.setattr(draw_mod, "REPR_TIMEOUT", 0.3)
    assert circuit()._repr_svg_() is None


def test_repr_svg_of_output_that_is_no_svg(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "cat >/dev/null\necho 'not a picture'\n")
    assert circuit()._repr_svg_() is None


@needs_dot
def test_repr_svg_with_real_dot():
    d = circuit()
    svg = d._repr_svg_()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert repr(d) == "<Drawing: 6 edges; .source is DOT, .render('g.svg') draws it>"


def test_draw_of_a_both_trace_shows_tangent_and_gradient():
    t = wg.trace(lambda x, y: x * y + x, 2.0, 3.0, mode="both", wrt="x")
    src = t.draw().source
    assert "x | value 2 | d/dx 1 | grad 4" in src and "y | value 3 | d/dx 0 | grad 2" in src
