"""The widgets in a real browser: JupyterLab and Voilà in headless Chromium, driven by Playwright.

One JupyterLab server (quick mode, private settings, no token) serves output-free copies of every
numbered notebook that builds a widget. For each, the test runs all cells from the Run menu, then
re-runs the widget cells and everything below them in the same kernel (cells run twice and out of
order must not break later ones), and checks that every widget renders, that progress bars are
drawn as bars (not text or JSON), and that moving every slider changes the picture or the text the
widget shows. The playground is served by Voilà, as ``make playground`` does, with every request
off this machine blocked: it must show no code, and its widgets must render and respond offline.
A control notebook (an inert slider, a widget without a model, a text progress bar) shows that the
checks fail when they should.

Needs Chromium at /usr/bin/chromium (Debian: ``apt-get install chromium``; ``$SSLTEACH_CHROMIUM``
points elsewhere) and the ``playwright`` package (dev extra); never ``playwright install``.
Screenshots of failures are kept in a temporary folder named in the assertion message.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import sslteach.widgets
from sslteach.utils import REPO_ROOT

CHROMIUM = Path(os.environ.get("SSLTEACH_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: install it (`apt-get install chromium`, as .ci/run does) "
                "or point $SSLTEACH_CHROMIUM at one", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PLAYGROUND = REPO_ROOT / "notebooks" / "playground.ipynb"
WIDGET_CLASSES = sorted(n for n, obj in vars(sslteach.widgets).items() if inspect.isclass(obj))
WIDGET_CODE = re.compile(r"\bst\.(?:%s)\(|\bipywidgets\b|\binteract(?:ive)?\(|@interact\b" % "|".join(WIDGET_CLASSES))
# what a progress bar or widget looks like when the browser could not draw it
TEXT_BARS = re.compile(r"\d+%\|[^|\n]*\||HBox\(children=|IProgress not found|model_id|"
                       r"Error displaying widget|model not found|Loading widget\.\.\.")
RUN_TIMEOUT_MS = 240_000


def widget_cells(path: Path) -> list[int]:
    """Indices of the code cells that build a widget."""
    nb = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and WIDGET_CODE.search(c.source)]


NOTEBOOKS = [p for p in sorted((REPO_ROOT / "notebooks").glob("[0-9]*.ipynb")) if widget_cells(p)]


def expects_progress_bar(path: Path) -> bool:
    """The committed notebook drew a tqdm bar: its saved widget state has one."""
    return "FloatProgressModel" in path.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(cmd: list[str], env: dict, url: str, log: Path):
    """Start a server in its own process group, wait until ``url`` answers, and always stop it."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{cmd[2]} did not start (exit code {proc.poll()}); its log:\n"
                                f"{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield
    finally:  # SIGTERM lets the server shut its kernels down; SIGKILL if it hangs
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _private_env(root: Path) -> dict:
    env = {**os.environ, "SSLTEACH_QUICK": "1"}
    for name in ("JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTERLAB_SETTINGS_DIR",
                 "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
        env[name] = str(root / name.lower())
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    settings = {"notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the DOM
                "docmanager-extension/plugin": {"autosave": False},
                "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}
    for plugin, values in settings.items():
        path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """URL of a JupyterLab serving output-free copies of the widget notebooks, in quick mode."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, root / "notebooks" / path.name)
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.token=",
           "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root / 'notebooks'}"]
    cmd += ["--allow-root"] if os.geteuid() == 0 else []
    url = f"http://127.0.0.1:{port}"
    with _server(cmd, _private_env(root), f"{url}/api/status", root / "lab.log"):
        yield url


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """URL of Voilà serving the playground (quick mode, tracebacks shown)."""
    root = tmp_path_factory.mktemp("voila")
    port = _free_port()
    cmd = [sys.executable, "-m", "voila", str(PLAYGROUND), "--no-browser", "--Voila.ip=127.0.0.1",
           f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True",
           f"--Voila.connection_dir_root={root}"]
    url = f"http://127.0.0.1:{port}"
    with _server(cmd, _private_env(root), f"{url}/voila/static/voila.js", root / "voila.log"):
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots():
    """Folder for the screenshots of failures; removed when nothing failed."""
    folder = Path(tempfile.mkdtemp(prefix="sslteach-browser-"))
    yield folder
    if not any(folder.iterdir()):
        folder.rmdir()


def _fail(page, shots: Path, name: str, message: str, extra: dict | None = None):
    stem = re.sub(r"\W+", "_", name)
    page.screenshot(path=str(shots / f"{stem}_page.png"), full_page=True)
    for label, png in (extra or {}).items():
        (shots / f"{stem}_{label}.png").write_bytes(png)
    pytest.fail(f"{name}: {message}\n(screenshots: {shots}/{stem}_*.png)")


PROMPTS_JS = """first => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].slice(first)
    .filter(c => c.classList.contains('jp-CodeCell'))
    .map(c => c.querySelector('.jp-InputArea-prompt').textContent)"""


def _run_from_menu(page, shots, name, item: str, first: int, before: int) -> None:
    """Click Run > ``item``; click again if no cell from ``first`` on starts (a kernel still connecting
    can drop the request)."""
    started = f"""first => ({PROMPTS_JS})(first).some(t => t.includes('*') ||
                                                    Number((t.match(/\\[(\\d+)\\]/) || [0, 0])[1]) > {before})"""
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()
        with contextlib.suppress(sync_api.TimeoutError):
            page.wait_for_function(started, arg=first, timeout=20_000)
            return
    _fail(page, shots, name, f"Run > {item} started no cell")


def _wait_for_run(page, shots, name, first: int, before: int) -> None:
    """Wait until the cells from ``first`` on are no longer running and at least one ran anew."""
    try:
        _wait_for_prompts(page, first, before)
    except sync_api.TimeoutError:
        _fail(page, shots, name, f"cells still running after {RUN_TIMEOUT_MS // 1000} s: "
              f"{page.evaluate(PROMPTS_JS, first)}")


def _wait_for_prompts(page, first: int, before: int) -> None:
    page.wait_for_function(f"""first => {{
        const prompts = ({PROMPTS_JS})(first);
        const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
        return idle && !prompts.some(t => t.includes('*')) &&
               prompts.some(t => Number((t.match(/\\[(\\d+)\\]/) || [0, 0])[1]) > {before});
    }}""", arg=first, timeout=RUN_TIMEOUT_MS)


def _check_ran(page, shots, name, first: int, before: int) -> int:
    """Every code cell from ``first`` on ran (count > ``before``) without an error; returns the last count."""
    counts = [int(m.group(1)) if (m := re.search(r"\[(\d+)\]", t)) else 0
              for t in page.evaluate(PROMPTS_JS, first)]
    errors = [t for t in page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
              .all_inner_texts() if "Traceback" in t]
    if errors or min(counts) <= before:
        _fail(page, shots, name, f"cells {[first + i for i, c in enumerate(counts) if c <= before]} (code cells "
              f"from {first}) did not run; errors:\n" + "\n".join(e[-1500:] for e in errors))
    return max(counts)


WIDGETS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => o.querySelector(':scope > .jupyter-widgets'))
    .map(o => { const r = o.getBoundingClientRect(); return {
        progress: !!o.querySelector('.progress-bar'), width: r.width, height: r.height,
        bars: [...o.querySelectorAll('.progress-bar')].map(b => b.getBoundingClientRect().width) }; })"""


def _check_widgets(page, shots, name, n_widgets: int, progress: bool) -> None:
    """``n_widgets`` interactive widgets (and the progress bars) are drawn; nothing fell back to text."""
    with contextlib.suppress(sync_api.TimeoutError):  # give the views a moment to draw
        page.wait_for_function("() => !document.body.innerText.includes('Loading widget...')", timeout=10_000)
    texts = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    if shown := [texts[max(0, m.start() - 80):m.end() + 80] for m in TEXT_BARS.finditer(texts)]:
        _fail(page, shots, name, "widgets or progress bars shown as text, not drawn:\n" + "\n".join(shown))
    found = page.evaluate(WIDGETS_JS)
    drawn = [w for w in found if not w["progress"] and w["width"] > 50 and w["height"] > 20]
    bars = [w for w in found if w["progress"]]
    if len(drawn) < n_widgets:
        _fail(page, shots, name, f"{n_widgets} widgets expected, {len(drawn)} drawn: {found}")
    if progress and not bars or any(not w["bars"] or min(w["bars"]) <= 0 for w in bars):
        _fail(page, shots, name, f"progress bars missing or empty: {bars}")


STATE_JS = """o => [...o.querySelectorAll('img')].map(i => i.src).join(' ') + ' | ' +
    [...o.querySelectorAll('.widget-html-content')].map(h => h.innerHTML).join(' ')"""


def _move_every_slider(page, shots, name, timeout_ms: int = 30_000) -> int:
    """Drag each slider of each widget by a quarter of its track; the widget's picture or text must change."""
    outputs = [o for o in page.locator(".jp-OutputArea-output").all()
               if o.locator(":scope > .jupyter-widgets").count() and not o.locator(".progress-bar").count()]
    moved = 0
    for k, output in enumerate(outputs):
        for j, slider in enumerate(output.locator(".widget-slider").all()):
            label = slider.locator(".widget-label").inner_text()
            readout, state = slider.locator(".widget-readout").inner_text(), output.evaluate(STATE_JS)
            before = output.screenshot()
            track, handle = slider.locator(".noUi-base").bounding_box(), slider.locator(".noUi-handle").bounding_box()
            x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
            dx = track["width"] / 4 * (-1 if x > track["x"] + track["width"] / 2 else 1)
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + dx, y, steps=5)
            page.mouse.up()
            where = f"slider '{label}' of widget {k}"
            if slider.locator(".widget-readout").inner_text() == readout:
                _fail(page, shots, f"{name}_{k}_{j}", f"dragging {where} did not move it (still {readout})",
                      {"before": before})
            try:
                page.wait_for_function(f"o => ({STATE_JS})(o) !== {json.dumps(state)}",  # the kernel redraws
                                       arg=output.element_handle(), timeout=timeout_ms)
            except sync_api.TimeoutError:
                _fail(page, shots, f"{name}_{k}_{j}", f"moving {where} from {readout} to "
                      f"{slider.locator('.widget-readout').inner_text()} did not change what it shows",
                      {"before": before, "after": output.screenshot()})
            moved += 1
    return moved


def _shutdown_kernels(url: str) -> None:
    """Stop the notebook's kernel before the next notebook runs (the server stops any left at the end)."""
    with contextlib.suppress(OSError):
        for s in json.load(urllib.request.urlopen(f"{url}/api/sessions", timeout=10)):
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions/{s['id']}", method="DELETE"),
                                   timeout=30)


def _open_and_run_all(page, shots, url: str, name: str) -> int:
    """Open a notebook, Run > Run All Cells, wait, check every cell ran; returns the last execution count."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    with contextlib.suppress(sync_api.TimeoutError):  # the kernel's status is known once it is connected
        page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
    _run_from_menu(page, shots, name, "Run All Cells", 0, 0)
    _wait_for_run(page, shots, name, 0, 0)
    return _check_ran(page, shots, name, 0, 0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_widgets_render_rerun_and_respond_in_jupyterlab(lab, browser, shots, path):
    cells = widget_cells(path)
    name, start = path.stem, time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        last = _open_and_run_all(page, shots, f"{lab}/lab/tree/{path.name}?reset", name)
        _check_widgets(page, shots, name, len(cells), expects_progress_bar(path))
        print(f"{name}: ran all cells in {time.monotonic() - start:.0f} s")
        # run the widget cells and every cell below them a second time, in the same kernel
        page.locator(".jp-Notebook .jp-Cell").nth(cells[0]).locator(".jp-InputPrompt").click()
        _run_from_menu(page, shots, name, "Run Selected Cell and All Below", cells[0], last)
        _wait_for_run(page, shots, f"{name} (re-run)", cells[0], last)
        _check_ran(page, shots, f"{name} (re-run)", cells[0], last)
        _check_widgets(page, shots, f"{name} (re-run)", len(cells), False)
        print(f"{name}: re-ran cells {cells[0]}.. after {time.monotonic() - start:.0f} s")
        assert _move_every_slider(page, shots, name) >= len(cells), f"{name}: fewer sliders than widgets"
        print(f"{name}: moved the sliders after {time.monotonic() - start:.0f} s")
    finally:
        page.close()
        _shutdown_kernels(lab)


def test_playground_in_voila_is_code_free_and_works_offline(voila, browser, shots):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    outside = []

    def only_this_machine(route):
        request = route.request
        if request.url.startswith(voila):
            route.continue_()
        else:  # offline: nothing from the internet
            outside.append((request.resource_type, request.url))
            route.abort()

    page.route("**/*", only_this_machine)
    try:
        page.goto(voila, timeout=RUN_TIMEOUT_MS)
        n = len(widget_cells(PLAYGROUND))
        try:
            page.wait_for_function(f"() => ({WIDGETS_JS})().filter(w => !w.progress).length >= {n}",
                                   timeout=RUN_TIMEOUT_MS)
        except sync_api.TimeoutError:
            _fail(page, shots, "voila", "the playground's widgets did not appear: " +
                  page.locator("body").inner_text()[-2000:])
        text = page.locator("body").inner_text()
        if "Traceback" in text or "There was an error" in text:
            _fail(page, shots, "voila", f"a cell failed:\n{text[-2000:]}")
        code = [line.strip() for cell in nbformat.read(PLAYGROUND, 4).cells if cell.cell_type == "code"
                for line in cell.source.splitlines() if "st." in line]
        assert not [line for line in code if line in text], "Voilà shows the playground's code"
        _check_widgets(page, shots, "voila", n, True)  # quick mode always trains the word vectors
        assert _move_every_slider(page, shots, "voila") >= n
        scripts = [url for kind, url in outside if kind == "script"]
        assert not scripts, f"the Voilà page needs scripts from the internet: {scripts}"
    finally:
        context.close()


CONTROL = [  # each cell breaks one check
    "import ipywidgets as W\nW.IntSlider(description='inert')",  # moving it changes nothing else
    "from IPython.display import display\ndisplay({'application/vnd.jupyter.widget-view+json': "
    "{'model_id': '0' * 32, 'version_major': 2, 'version_minor': 0}}, raw=True)",  # no such model
    "from tqdm import tqdm\nlist(tqdm(range(3)))",  # a text progress bar
]


def test_the_checks_catch_broken_widgets(lab, browser, tmp_path):
    """Control: an inert slider, a widget whose model is missing and a text progress bar all fail."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CONTROL])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    body = json.dumps({"type": "notebook", "content": nb}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{lab}/api/contents/control.ipynb", body, method="PUT"),
                           timeout=30)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        _open_and_run_all(page, tmp_path, f"{lab}/lab/tree/control.ipynb?reset", "control")
        with pytest.raises(pytest.fail.Exception, match="shown as text") as err:
            _check_widgets(page, tmp_path, "control", 1, False)
        assert re.search(r"model not found|Loading widget", str(err.value)) and "%|" in str(err.value)
        with pytest.raises(pytest.fail.Exception, match="did not change what it shows"):
            _move_every_slider(page, tmp_path, "control", timeout_ms=3_000)
    finally:
        page.close()
        _shutdown_kernels(lab)
