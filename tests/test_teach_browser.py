"""The interactive page in a real browser: headless Chromium driven by Selenium, one session for the whole module.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them when missing) and ``selenium``
(the test extra).  Where they are missing, the tests are skipped and say what to install.

With ``WENGERT_DOCS_IMAGES=1`` the screenshot of seed 001's page is also written to
``docs/images/trace_page.png`` (the picture the README shows).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from teach_seeds import L, f

import wengert as wg

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
DOCS_IMAGE = Path(__file__).resolve().parent.parent / "docs" / "images" / "trace_page.png"



@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium is not installed: apt-get install chromium chromium-driver "
                    "(Debian/Ubuntu; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,660", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _shown(driver, attr: str) -> dict:
    """``{row name: the attribute's value}`` for the rows that have it."""
    return driver.execute_script(
        "var attr = arguments[0], out = {};"
        "document.querySelectorAll('tr[data-node]').forEach(function (tr) {"
        "  if (tr.hasAttribute(attr)) { out[tr.getAttribute('data-node')] = tr.getAttribute(attr); }"
        "}); return out;", attr)


def _load(driver, tmp_path: Path, tr, name: str) -> None:
    path = tmp_path / name
    tr.save_html(path)
    driver.get(path.as_uri())


def test_seed001_page_steps_through_both_passes(browser, tmp_path):
    from selenium.webdriver.common.by import By

    _load(browser, tmp_path, wg.trace(f, -2.0, 5.0, -4.0), "seed001.html")
    nxt = browser.find_element(By.ID, "next")
    assert _shown(browser, "data-shown-value") == {} and _shown(browser, "data-shown-adjoint") == {}
    assert browser.find_element(By.ID, "prev").get_property("disabled")
    values = {"x": "-2", "y": "5", "z": "-4", "q": "3", "f": "-12"}
    order = ["x", "y", "z", "q", "f"]
    for k in range(1, len(order) + 1):  # forward: one value per click, in list order
        nxt.click()
        assert _shown(browser, "data-shown-value") == {n: values[n] for n in order[:k]}
        assert _shown(browser, "data-shown-adjoint") == {}
    assert "f = q * z = 3 * (-4) = -12" in browser.find_element(By.ID, "note").text
    adjoints = {"f": "1", "q": "-4", "z": "3", "y": "-4", "x": "-4"}
    for k, name in enumerate(reversed(order), start=1):  # backward: one adjoint per click, from the output
        nxt.click()
        shown = _shown(browser, "data-shown-adjoint")
        assert shown == {n: adjoints[n] for n in list(reversed(order))[:k]}
        assert "local partial" in browser.find_element(By.ID, "note").text or name == "f"
    assert {k: float(v) for k, v in _shown(browser, "data-shown-adjoint").items() if k in "xyz"} == \
        {"x": -4.0, "y": -4.0, "z": 3.0}
    assert nxt.get_property("disabled")  # the end: Next does nothing more
    cell = browser.find_element(By.CSS_SELECTOR, 'tr[data-node="x"] td.wg-adjoint').text
    assert "df/dx = ∂q/∂x × df/dq = 1 × (-4) = -4" in cell
    assert "grad -4" in browser.find_element(By.CSS_SELECTOR, '[data-graph-node="x"]').text
    shot = tmp_path / "trace_page.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1000, height + 160)  # the whole page (the window's frame takes some of it)
    assert browser.find_element(By.TAG_NAME, "html").screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    if os.environ.get("WENGERT_DOCS_IMAGES") == "1":
        DOCS_IMAGE.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGE)
    assert _errors(browser) == []


def test_keys_back_and_reset(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _load(browser, tmp_path, wg.trace(f, -2.0, 5.0, -4.0), "keys.html")
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(7):
        body.send_keys(Keys.ARROW_RIGHT)
    assert len(_shown(browser, "data-shown-value")) == 5 and set(_shown(browser, "data-shown-adjoint")) == {"f", "q"}
    body.send_keys(Keys.ARROW_LEFT)
    assert set(_shown(browser, "data-shown-adjoint")) == {"f"}
    browser.find_element(By.ID, "prev").click()
    assert _shown(browser, "data-shown-adjoint") == {} and len(_shown(browser, "data-shown-value")) == 5
    browser.find_element(By.ID, "reset").click()
    assert _shown(browser, "data-shown-value") == {}
    body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.HOME)
    assert _shown(browser, "data-shown-value") == {}
    assert _errors(browser) == []


def test_seed004_page_ends_with_the_gradient(browser, tmp_path):
    from selenium.webdriver.common.by import By

    tr = wg.trace(L, 3.0, 3.0, 1.0, wrt="W", precision=8)
    _load(browser, tmp_path, tr, "seed004.html")
    nxt = browser.find_element(By.ID, "next")
    while not nxt.get_property("disabled"):
        nxt.click()
    values = _shown(browser, "data-shown-value")
    adj = _shown(browser, "data-shown-adjoint")
    assert float(values["xi1"]) == -9.0 and float(values["L"]) == pytest.approx(1.2340219e-4)
    assert float(adj["W"]) == pytest.approx(-3.7018373e-4)  # the seed's magnitude, with the right sign
    assert "X" not in adj and "y" not in adj  # constants get no adjoint
    assert "dL/dW = -0.00037018373" in browser.find_element(By.ID, "note").text
    assert _errors(browser) == []


def test_two_notebook_widgets_do_not_interfere(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    a = wg.trace(f, -2.0, 5.0, -4.0)
    b = wg.trace(lambda x: wg.sin(x) * x, 1.0, mode="forward")
    doc = tmp_path / "notebook.html"
    doc.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                   + a._repr_html_() + b._repr_html_() + "</body></html>", encoding="utf-8")
    browser.get(doc.as_uri())
    first, second = browser.find_elements(By.CSS_SELECTOR, ".wg-stepper")
    first.find_element(By.CSS_SELECTOR, ".wg-next").click()
    assert first.find_elements(By.CSS_SELECTOR, "tr[data-shown-value]")[0].get_attribute("data-node") == "x"
    assert second.find_elements(By.CSS_SELECTOR, "tr[data-shown-value]") == []
    second.click()
    second.send_keys(Keys.ARROW_RIGHT)
    second.send_keys(Keys.ARROW_RIGHT)
    shown = second.find_elements(By.CSS_SELECTOR, "tr[data-shown-tangent]")
    assert [e.get_attribute("data-shown-tangent") for e in shown] == ["1", "0.540302"]  # dx/dx, d sin(x)/dx
    assert len(first.find_elements(By.CSS_SELECTOR, "tr[data-shown-value]")) == 1  # keys went to the focused one
    assert _errors(browser) == []
