"""HTML reports in a real browser (Debian's headless Chromium through chromedriver): the
pages of a real merge (the test-size MLP zoo's seven mixed-format sources, Q8_0 GGUF among
them, with AXIS, TSV-M and TIES), of Stage 2 tuning and training on the zoo's digits data, and
of the transfer benchmark load with no console error and no request, screenshot, and every
chart's numbers equal the JSON's: each series' data attributes against values recomputed here
from the JSON, and each drawn point, bar and segment against the position its value has on the
chart's own rendered axis ticks."""

import base64
import functools
import json
import math
import os
import re
import shutil
import struct

import pytest
from helpers import ROOT, amalgam

DIGITS = os.path.abspath(os.path.join(ROOT, ".build", "data", "digits.csv.gz"))
# Pixel coordinates are written to a hundredth; the browser holds them as float32.
PIXELS = 0.02

COLLECT = """
return Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const all = (selector) => Array.from(svg.querySelectorAll(selector));
  return {
    id: svg.id, kind: svg.dataset.kind, width: box.width, height: box.height,
    scales: Object.fromEntries(all('g.axis').map(g => [g.dataset.axis, g.dataset.scale])),
    ticks: all('line.tick').map(t => ({axis: t.dataset.axis, value: t.dataset.value,
      x: t.x1.baseVal.value, y: t.y1.baseVal.value})),
    series: all('polyline.series').map(p => ({name: p.dataset.series, xs: p.dataset.x, ys: p.dataset.y,
      omitted: +p.dataset.omitted, points: Array.from(p.points).map(q => [q.x, q.y])})),
    errors: all('line.error').map(e => ({name: e.dataset.series, x: e.dataset.x, group: e.dataset.group,
      low: e.dataset.low, high: e.dataset.high, y1: e.y1.baseVal.value, y2: e.y2.baseVal.value})),
    marks: all('circle.mark').map(c => ({name: c.dataset.series, group: c.dataset.group, value: c.dataset.value,
      error: c.dataset.error, cy: c.cy.baseVal.value})),
    segments: all('rect.segment').map(r => ({row: r.dataset.row, name: r.dataset.series, value: r.dataset.value,
      x: r.x.baseVal.value, width: r.width.baseVal.value})),
  };
});
"""


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "make deps installs Debian's chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # As root (CI) Chromium needs --no-sandbox; a small /dev/shm in containers needs the last flag.
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html") / "zoo"
    amalgam("zoo", "build", str(folder), "--family", "mlp", "--size", "test", "--digits", DIGITS)
    return folder, json.load(open(folder / "manifest.json"))


def load(browser, page, screenshot):
    """Opens the page; returns its console messages, resources fetched and charts; saves a full-page PNG."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get("file://" + str(page))
    messages = browser.get_log("browser")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot["data"])
    screenshot.write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return messages, resources, {chart["id"]: chart for chart in browser.execute_script(COLLECT)}


def loads_cleanly(browser, page, tmp_path):
    messages, resources, charts = load(browser, page, tmp_path / (page.stem + ".png"))
    assert messages == [] and resources == [], (messages, resources)
    # The whole page is in the screenshot (charts, tables), not only the first screen.
    width, height = struct.unpack(">II", (tmp_path / (page.stem + ".png")).read_bytes()[16:24])
    assert width >= 1000 and height > 1000, (width, height)
    for chart in charts.values():
        assert chart["width"] > 100 and chart["height"] > 100, chart["id"]
    return charts


def axis(chart, name):
    """The value-to-pixel map of one axis, from its rendered ticks (each tick checked against it)."""
    ticks = [tick for tick in chart["ticks"] if tick["axis"] == name]
    assert len(ticks) >= 2, (chart["id"], name)
    coordinate = "y" if name == "y" else "x"
    log = chart["scales"][name] == "log"
    transform = math.log10 if log else float
    first, last = ticks[0], ticks[-1]
    a, b = transform(float(first["value"])), transform(float(last["value"]))

    def position(value):
        return first[coordinate] + (transform(value) - a) / (b - a) * (last[coordinate] - first[coordinate])

    for tick in ticks:
        assert abs(position(float(tick["value"])) - tick[coordinate]) < PIXELS, (chart["id"], tick)
    return position


def numbers(text):
    return [float(word) for word in text.split()] if text else []


def check_series(chart, expected, log=False):
    """`expected`: series name -> [(x, y)]; each polyline's data equals it and its points lie at those values."""
    x_at, y_at = axis(chart, "x"), axis(chart, "y")
    drawn = {series["name"]: series for series in chart["series"]}
    assert sorted(drawn) == sorted(expected), (chart["id"], sorted(drawn), sorted(expected))
    for name, points in expected.items():
        shown = [(x, y) for x, y in points if not log or y > 0]
        series = drawn[name]
        xs, ys = numbers(series["xs"]), numbers(series["ys"])
        assert series["omitted"] == len(points) - len(shown), (chart["id"], name)
        assert len(xs) == len(shown) == len(series["points"]), (chart["id"], name)
        for (x, y), (dx, dy), (px, py) in zip(shown, zip(xs, ys), series["points"]):
            assert dx == x and math.isclose(dy, y, rel_tol=1e-12, abs_tol=1e-300), (chart["id"], name, dy, y)
            assert abs(x_at(dx) - px) < PIXELS and abs(y_at(dy) - py) < PIXELS, (chart["id"], name, dy, py)


def check_segments(chart, expected):
    """`expected`: row -> [(series, value)]; segments end to end from zero, widths as the axis says."""
    x_at = axis(chart, "x")
    rows = {}
    for segment in chart["segments"]:
        rows.setdefault(segment["row"], []).append(segment)
    assert list(rows) == list(expected), chart["id"]
    for row, values in expected.items():
        total = 0.0
        assert [(s["name"], float(s["value"])) for s in rows[row]] == values, (chart["id"], row)
        for segment, (_, value) in zip(rows[row], values):
            assert abs(segment["x"] - x_at(total)) < PIXELS, (chart["id"], row)
            assert abs(segment["x"] + segment["width"] - x_at(total + value)) < PIXELS, (chart["id"], row)
            total += value


def layer(name):
    return next((int(part) for part in name.split(".") if part.isdigit()), None)


def natural_before(a, b):
    """-1 when `a` comes first with digit runs compared as numbers, as the page orders matrices."""
    chunks_a = [part for part in re.split(r"(\d+)", a) if part]
    chunks_b = [part for part in re.split(r"(\d+)", b) if part]
    for x, y in zip(chunks_a, chunks_b):
        if x.isdigit() and y.isdigit() and int(x) != int(y):
            return -1 if int(x) < int(y) else 1
        if x != y:
            return -1 if x < y else 1
    return -1 if len(a) < len(b) else 1 if len(a) > len(b) else 0


natural = functools.cmp_to_key(natural_before)


def legend(sources):
    return [f"{index + 1}: {os.path.basename(path)}" for index, path in enumerate(sources)]


def check_merge_page(charts, report, prefix="r0"):
    labels = legend(report["sources"])
    tensors = report["tensors"]
    merged = [t for t in tensors if t["kind"] != "copy"]
    layers = sorted({layer(t["name"]) for t in merged} - {None})
    expected = {}
    for index, label in enumerate(labels + ["merged update"]):
        points = []
        for number in layers:
            members = [t for t in merged if layer(t["name"]) == number]
            values = [t["update_norm"] if index == len(labels) else t["task_vector_norms"][index] for t in members]
            points.append((float(number), math.sqrt(sum(float(v or 0) ** 2 for v in values))))
        expected[label] = points
    check_series(charts[prefix + "-norms"], expected)

    # The charts list matrices layer by layer (digit runs compared as numbers).
    matrices = sorted((t for t in tensors if t["kind"] == "matrix"), key=lambda t: natural(t["name"]))
    counted = [t for t in matrices if "components_per_source" in t]
    if counted:
        rows = {}
        for t in counted:
            per = t["components_per_source"]
            if isinstance(per, list):
                values = [float(v) for v in per]
            else:
                below = t.get("components_below_noise_floor", [0] * len(labels))
                values = [float(per - b) for b in below]
            rows[t["name"]] = list(zip(labels, values))
        check_segments(charts[prefix + "-components"], rows)
    else:
        assert prefix + "-components" not in charts
    energies = [t for t in matrices if "kept_energy_fraction" in t]
    if energies:
        check_segments(
            charts[prefix + "-energy"], {t["name"]: [("kept", float(t["kept_energy_fraction"]))] for t in energies})
    spectra = [t for t in matrices if "source_singular_values" in t or "merged_singular_values" in t]
    for index, t in enumerate(spectra):
        expected = {}
        for label, values in zip(labels, t.get("source_singular_values", [])):
            expected[label] = [(float(k + 1), float(v)) for k, v in enumerate(values)]
        if "merged_singular_values" in t:
            expected["merged update"] = [(float(k + 1), float(v)) for k, v in enumerate(t["merged_singular_values"])]
        chart = charts[f"{prefix}-spectrum-{index}"]
        assert chart["scales"]["y"] == "log"
        check_series(chart, expected, log=True)
    return len(spectra)


def sources(manifest, folder, skip):
    return [str(folder / task["source"]) for task in manifest["tasks"] if task["name"] != skip]


@pytest.mark.parametrize("method", ["axis", "tsv", "ties", "average"])
def test_merge_page(browser, zoo, tmp_path, method):
    folder, manifest = zoo
    inputs = sources(manifest, folder, skip="digits")
    arguments = ["merge", "--base", str(folder / "base.safetensors"), "--method", method,
                 "--output", str(tmp_path / "merged.safetensors"), "--report", str(tmp_path / "report.json"),
                 "--report-html", str(tmp_path / "merge.html"), "--leave-out", "classifier.*"]
    for path in inputs:
        arguments += ["--source", path]
    if method == "ties":
        arguments += ["--factors", str(tmp_path / "factors.safetensors")]
    amalgam(*arguments)
    report = json.load(open(tmp_path / "report.json"))
    assert len(report["sources"]) == 7 and any(path.endswith(".gguf") for path in report["sources"])
    charts = loads_cleanly(browser, tmp_path / "merge.html", tmp_path)
    spectra = check_merge_page(charts, report)
    # Every merged matrix has both spectra, whatever the method: axis and tsv record the values they
    # computed, the others a randomized SVD of rank 10% of min(m, n) (ties: the merged one from its factors).
    matrices = [t for t in report["tensors"] if t["kind"] == "matrix"]
    assert spectra == len(matrices) == 3
    for t in matrices:
        assert len(t["source_singular_values"]) == 7 and len(t["merged_singular_values"]) > 0
        if method in ("average", "ties"):
            assert all(len(values) == int(0.1 * min(t["shape"]) + 0.5) for values in t["source_singular_values"])
    # amalgam report draws the same page from the JSON.
    amalgam("report", str(tmp_path / "report.json"), "-o", str(tmp_path / "again.html"))
    page = (tmp_path / "again.html").read_text()
    assert page == (tmp_path / "merge.html").read_text()
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_tuning_and_training_pages(browser, zoo, tmp_path):
    folder, manifest = zoo
    target = next(task for task in manifest["tasks"] if task["name"] == "digits")
    arguments = ["merge", "--base", str(folder / "base.safetensors"), "--output", str(tmp_path / "merged.safetensors"),
                 "--factors", str(tmp_path / "factors.safetensors"), "--report", str(tmp_path / "merge.json"),
                 "--leave-out", "classifier.*", "--k-fraction", "0.25"]
    for path in sources(manifest, folder, skip="digits"):
        arguments += ["--source", path]
    amalgam(*arguments)
    data = ["--data", str(folder / target["train"]), "--eval", str(folder / target["test"])]
    amalgam("tune", "--base", str(folder / "base.safetensors"), "--factors", str(tmp_path / "factors.safetensors"),
            "--merged", str(tmp_path / "merged.safetensors"), *data, "--epochs", "4", "--sv-fraction", "0.1",
            "--output", str(tmp_path / "tuned.safetensors"), "--report-html", str(tmp_path / "tune.html"))
    log = json.load(open(tmp_path / "tuned.safetensors.log.json"))
    assert log["mode"] == "sv" and len(log["singular_values"]) == 3
    charts = loads_cleanly(browser, tmp_path / "tune.html", tmp_path)
    epochs = log["epochs"]

    def curve(key):
        return [(float(e["epoch"]), float(e[key])) for e in epochs if e[key] is not None]

    check_series(charts["r0-loss"], {"train loss": curve("train_loss"), "eval loss": curve("eval_loss")})
    check_series(charts["r0-accuracy"], {"train accuracy": curve("train_accuracy"),
                                         "eval accuracy": curve("eval_accuracy")})
    # The epoch table: each column is the log's field its header names.
    header = browser.execute_script(
        "return Array.from(document.querySelectorAll('#r0-epochs thead th')).map(c => c.textContent)")
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#r0-epochs tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.textContent))")
    keys = {"epoch": "epoch", "train loss": "train_loss", "train accuracy": "train_accuracy", "eval loss": "eval_loss",
            "eval accuracy": "eval_accuracy", "examples/s": "examples_per_second", "learning rate": "learning_rate"}
    assert header == list(keys) and len(rows) == len(epochs)
    for row, epoch in zip(rows, epochs):
        for title, cell in zip(header, row):
            value = float(epoch[keys[title]])
            assert math.isclose(float(cell), value, rel_tol=5e-4, abs_tol=1e-12), (title, cell, value)
    for index, trace in enumerate(log["singular_values"]):
        assert len(trace["merged"]) == len(trace["trained"]) > 0
        # Trained from zero (the default start): the values moved, the merged ones are the factors'.
        assert any(value != 0 for value in trace["trained"])
        check_series(charts[f"r0-sv-{index}"], {
            "merged": [(float(k + 1), float(v)) for k, v in enumerate(trace["merged"])],
            "trained": [(float(k + 1), float(v)) for k, v in enumerate(trace["trained"])]})

    # Training every weight: curves, no singular values; with the merge report, one page of two sections.
    amalgam("train", str(folder / "base.safetensors"), *data, "--epochs", "3",
            "--output", str(tmp_path / "trained.safetensors"), "--report-html", str(tmp_path / "train.html"))
    charts = loads_cleanly(browser, tmp_path / "train.html", tmp_path)
    assert not any(name.startswith("r0-sv-") for name in charts)
    amalgam("report", str(tmp_path / "merge.json"), str(tmp_path / "tuned.safetensors.log.json"),
            "--output", str(tmp_path / "both.html"))
    charts = loads_cleanly(browser, tmp_path / "both.html", tmp_path)
    check_merge_page(charts, json.load(open(tmp_path / "merge.json")), prefix="r0")
    check_series(charts["r1-loss"], {"train loss": curve("train_loss"), "eval loss": curve("eval_loss")})


def summary(values):
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def percent(fraction):
    text = f"{fraction * 100:.1f}".rstrip("0").rstrip(".")
    return f"N = {text}%"


def test_benchmark_page(browser, zoo, tmp_path):
    folder, _ = zoo
    amalgam("bench", "transfer", "--zoo", str(folder), "--target", "fashion", "--target", "digits",
            "--method", "axis", "--method", "tsv-m", "--method", "average", "--method", "base",
            "--method", "linear-probe", "--seeds", "2", "--fraction", "0.1", "--fraction", "0.25", "--steps", "40",
            "--no-robustness", "--report", str(tmp_path / "bench.md"), "--report-html", str(tmp_path / "bench.html"),
            "--cache", str(tmp_path / "cache"))
    document = json.load(open(tmp_path / "bench.json"))
    charts = loads_cleanly(browser, tmp_path / "bench.html", tmp_path)

    accuracy = charts["r0-accuracy"]
    y_at = axis(accuracy, "y")
    marks = {(mark["name"], mark["group"]): mark for mark in accuracy["marks"]}
    assert len(marks) == len(document["aggregates"]) == 4 * 2 + 1
    for aggregate in document["aggregates"]:
        group = percent(float(aggregate["fraction"])) if aggregate["fraction"] is not None else "any N"
        mark = marks[(aggregate["label"], group)]
        runs = [run for run in document["runs"] if run["method"] == aggregate["method"]
                and run["variant"] == "standard" and run["fraction"] == aggregate["fraction"]]
        mean, std = summary([float(run["accuracy"]) for run in runs])
        assert float(mark["value"]) == float(aggregate["accuracy"]["mean"])
        assert float(mark["error"]) == float(aggregate["accuracy"]["std"])
        assert abs(float(mark["value"]) - mean) < 1e-6 and abs(float(mark["error"]) - std) < 1e-6
        assert abs(y_at(float(mark["value"])) - mark["cy"]) < PIXELS
    for error in accuracy["errors"]:
        assert abs(y_at(float(error["low"])) - error["y1"]) < PIXELS
        assert abs(y_at(float(error["high"])) - error["y2"]) < PIXELS

    # The sweep: AXIS and Average+S2 at 1, 2, 4 sources and at all seven, N = 10%, ± std over targets x seeds.
    sweep = charts["r0-sweep"]
    expected = {}
    for method, label in (("axis", "AXIS"), ("average", "Average+S2")):
        counts = sorted({int(run["variant"].split("-")[1]) for run in document["runs"]
                         if run["method"] == method and run["variant"].startswith("sources-")})
        points = []
        for count in counts + [document["sources_per_target"]]:
            variant = "standard" if count == document["sources_per_target"] else f"sources-{count}"
            values = [float(run["accuracy"]) for run in document["runs"]
                      if run["method"] == method and run["variant"] == variant and float(run["fraction"]) == 0.1]
            points.append((float(count), *summary(values)))
        expected[label] = points
    check_series(sweep, {label: [(x, mean) for x, mean, _ in points] for label, points in expected.items()})
    y_at = axis(sweep, "y")
    errors = {(error["name"], float(error["x"])): error for error in sweep["errors"]}
    for label, points in expected.items():
        for x, mean, std in points:
            if std > 0:
                error = errors[(label, x)]
                assert math.isclose(float(error["low"]), mean - std, rel_tol=1e-12)
                assert abs(y_at(mean - std) - error["y1"]) < PIXELS and abs(y_at(mean + std) - error["y2"]) < PIXELS
    reference = [run for run in document["runs"] if run["method"] == "base" and float(run["fraction"]) == 0.1]
    assert len(reference) == 4

    # The per-target table (N = 10%, the probe at its own runs): means over seeds, in points.
    header = browser.execute_script(
        "return Array.from(document.querySelectorAll('#r0-targets thead th')).map(c => c.textContent)")
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#r0-targets tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.textContent))")
    labels = {aggregate["label"]: aggregate["method"] for aggregate in document["aggregates"]}
    assert header[1:] == list(dict.fromkeys(aggregate["label"] for aggregate in document["aggregates"]))
    assert [row[0] for row in rows] == ["fashion", "digits"]
    for row in rows:
        for label, cell in zip(header[1:], row[1:]):
            values = [float(run["accuracy"]) for run in document["runs"]
                      if run["target"] == row[0] and run["method"] == labels[label] and run["variant"] == "standard"
                      and (run["fraction"] is None or float(run["fraction"]) == 0.1)]
            assert abs(float(cell) - 100 * sum(values) / len(values)) <= 0.005 + 1e-9, (row[0], label, cell)


def test_console_errors_are_caught(browser, tmp_path):
    """The check above can fail: a chart with a NaN coordinate is an error in Chromium's console."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><svg width="9" height="9"><polyline points="NaN,1 2,3"/></svg>'
                    "</body></html>")
    messages, _, _ = load(browser, page, tmp_path / "broken.png")
    assert any(m["level"] == "SEVERE" and "polyline" in m["message"] for m in messages), messages


def test_bad_reports_fail_with_one_line(tmp_path):
    (tmp_path / "other.json").write_text('{"schema": "something/1"}')
    (tmp_path / "cut.json").write_text('{"schema": "amalgam.merge-report/1", "tensors": [')
    (tmp_path / "fields.json").write_text('{"schema": "amalgam.merge-report/1", "method": "axis", "sources": [1]}')
    cases = [
        ("other.json", "not an Amalgam report: its schema is 'something/1' (reports are amalgam.merge-report/1, "
                       "amalgam.tune-log/1, amalgam.transfer-benchmark/1)"),
        ("cut.json", "not JSON:"),
        ("fields.json", "the report must be a string (at sources[0])"),
    ]
    for name, message in cases:
        result = amalgam("report", str(tmp_path / name), "-o", str(tmp_path / "page.html"), check=False)
        lines = result.stderr.splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"amalgam report: error: {tmp_path / name}") and message in lines[0], lines[0]
        assert not (tmp_path / "page.html").exists()
    # The input is never the output, --force or not.
    before = (tmp_path / "other.json").read_bytes()
    result = amalgam("report", str(tmp_path / "other.json"), "-o", str(tmp_path / "other.json"), "--force",
                     check=False)
    assert result.returncode == 1 and "refusing to overwrite an input file" in result.stderr
    assert (tmp_path / "other.json").read_bytes() == before
    result = amalgam("report", "-o", str(tmp_path / "page.html"), check=False)
    assert result.returncode == 64 and "missing REPORT.json" in result.stderr
