"""The HTML bias report (rendered in real headless Chromium) and the report store."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from governance.bias import FOUR_FIFTHS_NOTE, audit
from governance.embedded.demo_predictions import write_demo_predictions
from governance.reports import (
    ERR_BAD_CONTENT_TYPE,
    ERR_BAD_KEY,
    ERR_NO_SUCH_KEY,
    LocalReportStore,
    ReportStore,
    render_bias_html,
)

IN_CI = bool(os.environ.get("CI"))
ERR_NO_CHROMIUM = "chromium not found; install Debian's chromium package (./scripts/install-system-deps.sh)"
PROVENANCE = {"model_name": "credit-scorer", "model_version": "1.2.0"}


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = write_demo_predictions(
        tmp_path_factory.mktemp("demo") / "p.parquet", model_name="credit-scorer", disparity=True
    )
    return audit(
        path,
        label="label",
        prediction="prediction",
        protected=["sex", "race", "age_band"],
        score="score",
        timestamp="timestamp",
        bootstrap=20,
    ).to_dict()


@pytest.fixture(scope="module")
def page(flagged: dict[str, Any]) -> str:
    return render_bias_html(flagged, provenance=PROVENANCE)


def test_verdict_comes_first_and_names_the_flag(page: str, flagged: dict[str, Any]) -> None:
    assert page.startswith("<!DOCTYPE html>")
    verdict = page.index('id="verdict"')
    assert verdict < page.index('id="summary"') < page.index('id="provenance"')
    assert page.index('id="provenance"') < page.index('id="attr-sex"')
    assert "Verdict: Screening flag raised" in page
    di = flagged["attributes"]["age_band"]["disparate_impact"]
    verdict_html = page[verdict : page.index('id="summary"')]
    assert f"disparate impact {di:.2f}" in verdict_html
    assert "<b>66+</b>" in verdict_html
    assert escape(FOUR_FIFTHS_NOTE) in verdict_html
    assert "US Uniform Guidelines on Employee" in page and "screening flag" in page


def test_tables_highlight_flagged_and_small_groups(page: str, flagged: dict[str, Any]) -> None:
    section = page[page.index('id="attr-age-band"') :]
    section = section[: section.index("</section>")]
    row = re.search(r'<tr class="flagged">(.*?)</tr>', section)
    assert row is not None and "<td>66+</td>" in row.group(1)
    rate = flagged["attributes"]["age_band"]["groups"]["66+"]["selection_rate"]
    assert f"{100 * rate:.1f}%" in row.group(1)
    sex = page[page.index('id="attr-sex"') :]
    assert re.search(r'<tr class="small"><td>non-binary</td>', sex)
    assert "small (&lt; 30 rows)" in sex


def test_self_contained_with_one_chart_per_attribute(page: str) -> None:
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3
    for data in images:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.format == "PNG" and image.width > 800
        assert len(_colours(image)) > 20


def test_provenance_is_shown(page: str, flagged: dict[str, Any]) -> None:
    prov = page[page.index('id="provenance"') :]
    prov = prov[: prov.index("</section>")]
    assert "credit-scorer" in prov and "1.2.0" in prov
    assert "20,000" in prov
    assert flagged["provenance"]["time_window"]["start"] in prov
    assert flagged["provenance"]["source"] in prov
    assert f"fairlearn {flagged['method']['fairlearn_version']}" in prov


def test_clear_and_unassessed_verdicts_and_escaping() -> None:
    df = pd.DataFrame(
        {
            "g": ["<script>x</script>"] * 100 + ["b"] * 100,
            "h": ["only"] * 200,
            "label": [0, 1] * 100,
            "prediction": [1, 0] * 100,
        }
    )
    clear = audit(df, label="label", prediction="prediction", protected="g").to_dict()
    html = render_bias_html(clear, provenance={})
    assert "Verdict: No screening flag raised" in html and "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    partial = audit(df, label="label", prediction="prediction", protected=["g", "h"]).to_dict()
    html = render_bias_html(partial, provenance={})
    assert 'class="verdict partial"' in html and "NOT ASSESSED" in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_renders_in_headless_chromium(page: str, tmp_path: Path, flagged: dict[str, Any]) -> None:
    browser = _chromium()
    if browser is None:
        if IN_CI:
            pytest.fail(ERR_NO_CHROMIUM)
        pytest.skip(ERR_NO_CHROMIUM)
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
    ]
    url = report.as_uri()
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Verdict: Screening flag raised" in dom
    di = flagged["attributes"]["age_band"]["disparate_impact"]
    assert f"{di:.3f}" in dom
    assert "66+" in dom and "four-fifths rule" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = Image.open(shot)
    assert image.size == (1280, 2000)
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16).reshape(-1, 3)
    non_white = int((pixels != 255).any(axis=1).sum())
    assert non_white > 0.05 * len(pixels)
    assert len(_colours(image)) > 100
    # The pink verdict box and the blue chart bars made it onto the screen.
    assert _has_colour(pixels, (0xFD, 0xEC, 0xEA), tolerance=3)
    assert _has_colour(pixels, (0x2C, 0x7F, 0xB8), tolerance=8)


def _colours(image: Image.Image) -> np.ndarray:
    return np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)


def _has_colour(pixels: np.ndarray, rgb: tuple[int, int, int], *, tolerance: int) -> bool:
    return bool((np.abs(pixels - np.array(rgb)) < tolerance).all(axis=1).any())


# ----------------------------------------------------------------------------- store


def test_local_store_round_trip(tmp_path: Path) -> None:
    store = LocalReportStore(tmp_path / "reports")
    assert isinstance(store, ReportStore)
    assert store.list() == []
    uri = store.put("bias/credit-scorer/1.2.0/2026-03-01.html", b"<html>", "text/html")
    assert uri == (tmp_path / "reports/bias/credit-scorer/1.2.0/2026-03-01.html").as_uri()
    store.put("bias/credit-scorer/1.2.0/2026-03-01.json", b"{}", "application/json")
    store.put("compliance/x.json", b"[]", "application/json")
    assert store.get("bias/credit-scorer/1.2.0/2026-03-01.html") == b"<html>"
    assert store.exists("compliance/x.json") and not store.exists("compliance/y.json")
    assert store.list("bias/") == [
        "bias/credit-scorer/1.2.0/2026-03-01.html",
        "bias/credit-scorer/1.2.0/2026-03-01.json",
    ]
    store.put("compliance/x.json", b"[1]", "application/json")  # rerun replaces
    assert store.get("compliance/x.json") == b"[1]"
    assert len(store.list()) == 3
    with pytest.raises(KeyError) as info:
        store.get("nope.json")
    assert info.value.args[0] == ERR_NO_SUCH_KEY.format(key="nope.json", root=store.root)


@pytest.mark.parametrize("key", ["", "/abs.json", "../up.json", "a//b", "a/./b", "a\\b", ".tmp-x"])
def test_local_store_refuses_unsafe_keys(tmp_path: Path, key: str) -> None:
    store = LocalReportStore(tmp_path)
    with pytest.raises(ValueError) as info:
        store.put(key, b"x", "text/plain")
    assert str(info.value) == ERR_BAD_KEY.format(key=key)
    with pytest.raises(ValueError) as info:
        store.put("ok.txt", b"x", "plain")
    assert str(info.value) == ERR_BAD_CONTENT_TYPE.format(content_type="plain")


def test_local_store_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalReportStore(tmp_path)
    store.put("r.json", b"old", "application/json")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put("r.json", b"new", "application/json")
    monkeypatch.undo()
    assert store.get("r.json") == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
