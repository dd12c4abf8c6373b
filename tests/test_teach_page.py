"""The interactive page (without a browser): its contract, its steps, self-containment, escaping, the CLI's --html.

tests/test_teach_browser.py clicks through it in headless Chromium.
"""
from __future__ import annotations

import html.parser
import json
import os
import re

import numpy as np
import pytest
from teach_seeds import L, f

import wengert as wg
from wengert.cli import main
from wengert.teach import page as P


class Doc(html.parser.HTMLParser):
    """Collects the elements of a page: tags with attributes, the ids, and the scripts' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script = a

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.tags if "id" in a]

    def data(self) -> dict:
        return json.loads(next(t for a, t in self.scripts if a.get("type") == "application/json"))


def parse(text: str) -> Doc:
    d = Doc()
    d.feed(text)
    return d


def test_page_contract_for_seed001():
    tr = wg.trace(f, -2.0, 5.0, -4.0)
    text = tr.to_html(interactive=True)
    doc = parse(text)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    ids = doc.ids()
    for i in ("next", "prev", "reset", "note"):
        assert ids.count(i) == 1
    assert len(ids) == len(set(ids))
    rows = [a for t, a in doc.tags if t == "tr" and "data-node" in a]
    assert [a["data-node"] for a in rows] == ["x", "y", "z", "q", "f"]
    assert not any(k.startswith("data-shown") for _, a in doc.tags for k in a)  # nothing shown before a step
    graph = [a["data-graph-node"] for t, a in doc.tags if "data-graph-node" in a]
    assert sorted(graph) == ["f", "q", "x", "y", "z"]
    data = doc.data()
    assert [r["value"] for r in data["rows"]] == ["-2", "5", "-4", "3", "-12"]
    assert [r["adjoint"] for r in data["rows"]] == ["-4", "-4", "3", "-4", "1"]
    assert data["forwardSteps"] == 5 and len(data["steps"]) == 10 and data["page"] is True


def test_page_is_self_contained():
    text = wg.trace(L, 3.0, 3.0, 1.0, wrt="W").to_html(interactive=True)
    low = text.lower()
    assert "http:" not in low and "https:" not in low and "//" not in re.sub(r"<script>.*?</script>", "", low,
                                                                           flags=re.S)
    doc = parse(text)
    assert not [a for t, a in doc.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in doc.tags if "src" in a or "href" in a]
    assert "<svg" in text and all("src" not in a for t, a in doc.tags if t in ("script", "style"))
    assert '@import' not in text and 'url(' not in text.replace("url(#wg-arrow-", "")


def test_steps_forward_then_backward_with_chain_rule():
    steps = P.page_steps(wg.trace(f, -2.0, 5.0, -4.0))
    fwd = [s for s in steps if s["phase"] == "forward"]
    bwd = [s for s in steps if s["phase"] == "backward"]
    assert [s["row"] for s in fwd] == [0, 1, 2, 3, 4] and [s["row"] for s in bwd] == [4, 3, 2, 1, 0]
    assert fwd[3]["note"] == "q = x + y = -2 + 5 = 3"
    assert bwd[0]["formula"] == "df/df = 1: the seed"
    assert bwd[1]["formula"] == "df/dq = ∂f/∂q × df/df = (-4) × 1 = -4"
    assert bwd[2]["formula"] == "df/dz = ∂f/∂z × df/df = 3 × 1 = 3"
    assert bwd[4]["formula"] == "df/dx = ∂q/∂x × df/dq = 1 × (-4) = -4"


def test_steps_show_fan_out_sums():
    def f(x, y):
        a = x * y
        b = wg.sin(x)
        return a + b

    steps = P.page_steps(wg.trace(f, 2.0, 3.0))
    (sx,) = [s for s in steps if s["phase"] == "backward" and s["row"] == 0]
    assert sx["fanout"] == 2 and "gradients add" in sx["note"]
    assert sx["formula"].startswith("df/dx = ∂a/∂x × df/da + ∂b/∂x × df/db = 3 × 1 + ")
    assert sx["formula"].endswith(f"= {3 + np.cos(2.0):.6g}")


def test_steps_of_a_forward_trace_show_tangents():
    tr = wg.trace(f, -2.0, 5.0, -4.0, mode="forward", wrt="x")
    steps = P.page_steps(tr)
    assert len(steps) == 5 and all(s["phase"] == "forward" for s in steps)
    assert steps[0]["formula"].startswith("dx/dx = 1: the seed")
    assert steps[4]["formula"] == "df/dx = ∂f/∂q × dq/dx = (-4) × 1 = -4"  # z is a constant here
    data = parse(tr.to_html(interactive=True)).data()
    assert [r["tangent"] for r in data["rows"]] == ["1", "0", "0", "1", "-4"]
    assert all(r["adjoint"] is None for r in data["rows"])


def test_both_mode_page_and_jacobian_steps():
    W = np.array([[1.0, -1.0], [0.5, 2.0]])
    tr = wg.trace(lambda W, x: wg.sum(wg.sigmoid(W @ x)), W, np.array([3.0, 1.0]), mode="both", wrt="W",
                  tangent=np.ones((2, 2)))
    steps = P.page_steps(tr)
    assert sum(s["phase"] == "backward" for s in steps) == len(tr.rows)
    (sw,) = [s for s in steps if s["phase"] == "backward" and s["row"] == 0]
    assert "(∂v1/∂W)ᵀ · dv3/dv1" in sw["formula"]  # a matmul's partial is a Jacobian: its transpose applies
    page = tr.to_html(interactive=True)
    assert 'class="wg-tangent"' in page and 'class="wg-adjoint"' in page


def test_names_and_values_are_escaped():
    x = wg.tensor(1.0)
    x.name = '</script><b a="1">&'
    tr = wg.trace(lambda x: wg.exp(x) * 2.0, x)
    text = tr.to_html(interactive=True)
    assert "</script><b" not in text
    doc = parse(text)
    assert next(a["data-node"] for t, a in doc.tags if "data-node" in a) == '</script><b a="1">&'
    assert doc.data()["rows"][0]["name"] == '</script><b a="1">&'


def test_large_trace_page_has_the_table_but_no_drawing():
    def f(x):
        for _ in range(P.MAX_NODES + 5):
            x = wg.sin(x)
        return x

    text = wg.trace(f, 0.1).to_html(interactive=True)
    assert "<svg" not in text and "is not drawn here" in text
    assert text.count("<tr data-node=") == P.MAX_NODES + 6


def test_save_html_writes_atomically(tmp_path):
    tr = wg.trace(f, -2.0, 5.0, -4.0)
    path = tmp_path / "f.html"
    assert tr.save_html(path, title="seed 001") == str(path)
    text = path.read_text(encoding="utf-8")
    assert "<title>seed 001</title>" in text and text == tr.to_html(interactive=True, title="seed 001")
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["f.html"]  # no temporary file left
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist; create it first"):
        tr.save_html(tmp_path / "missing" / "x.html")


def test_jupyter_shows_the_stepper_inline():
    tr = wg.trace(f, -2.0, 5.0, -4.0)
    a, b = tr._repr_html_(), tr._repr_html_()
    assert not a.startswith("<!DOCTYPE") and 'class="wg-stepper"' in a and '<tr data-node="q"' in a
    ida, idb = (parse(s).ids() for s in (a, b))
    assert ida != idb and "next" not in ida  # two outputs in one notebook do not share ids
    assert parse(a).data()["page"] is False  # keys act on the widget only
    assert '<td class="wg-adjoint">-4</td>' in a  # without JavaScript the full table still shows
    with wg.trace() as t:
        u = wg.tensor(2.0, requires_grad=True)
        v = u * u  # noqa: F841
    assert 'class="wg-stepper"' in t._repr_html_()


def test_plain_to_html_is_unchanged():
    tr = wg.trace(f, -2.0, 5.0, -4.0)
    assert tr.to_html().startswith('<table class="wengert-trace">') and "<script" not in tr.to_html()


def test_cli_html(tmp_path, capsys):
    out = tmp_path / "circuit.html"
    assert main(["trace", "(x + y) * z", "--at", "x=-2", "y=5", "z=-4", "--html", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<title>f = (x + y) * z   at x=-2, y=5, z=-4</title>" in text and 'id="next"' in text
    assert [r["adjoint"] for r in parse(text).data()["rows"]] == ["-4", "-4", "3", "-4", "1"]
    assert "gradient: df/dx = -4" in capsys.readouterr().out
    assert main(["trace", "x * x", "--at", "x=3", "--html", str(tmp_path / "no" / "x.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wengert trace: error: cannot write") and "does not exist" in err and "\n" not in err
