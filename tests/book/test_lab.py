"""Open every chapter in a real JupyterLab (jupyterlab-myst) in headless Chromium: no raw MyST.

A reader who opens a chapter in JupyterLab (locally or on Binder) sees what jupyterlab-myst
makes of the markdown, before running anything. This test starts its own
server from this environment, opens each notebook read-only (no cell runs; every write request
to the contents API is refused and reported) and fails, per notebook, on:

- raw MyST left in the rendered text (``{prf:``, ``{glue``, a ``(label)=`` line, ``:label:``...);
- references jupyterlab-myst could not resolve: it shows them as the bare key with a warning
  icon ("Citation Not Found", "Cross Reference Not Found"), and unknown directives as an
  "Unknown Directive" box;
- roles it swallows silently: ``{glue:text}`key``` renders as the bare ``key``, and an
  ``{eval}`` with no stored result (``user_expressions`` cell metadata) as the expression in
  code font, so these two are found in the cell's source;
- a first cell that is not the chapter's rendered title (an h1): marked "TITLE CHECK".

Screenshots of the first 1600 px go to `_build/lab-screenshots/<notebook stem>.png`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
SCREENSHOTS = ROOT / "_build" / "lab-screenshots"
VIEWPORT = {"width": 1280, "height": 1600}
CONTEXT = 30  # characters of context on each side of a fragment

# Raw MyST in the rendered text: kind shown in the report, pattern. A role opening right after a
# letter is a TeX argument (``\mathrm{ref}`` in an equation), not MyST.
RAW = [
    ("{prf:", re.compile(r"(?<![A-Za-z])\{prf:")),
    ("```{math}", re.compile(r"```\{math\}")),
    ("```{", re.compile(r"```\{(?!math\})")),
    (":::{", re.compile(r":::\{")),
    ("{glue", re.compile(r"(?<![A-Za-z])\{glue")),
    ("{eq}", re.compile(r"(?<![A-Za-z])\{eq\}")),
    ("{ref}", re.compile(r"(?<![A-Za-z])\{ref\}")),
    ("{cite", re.compile(r"(?<![A-Za-z])\{cite")),
    ("{numref}", re.compile(r"(?<![A-Za-z])\{numref\}")),
    ("{eval}", re.compile(r"(?<![A-Za-z])\{eval\}")),
    ("(label)=", re.compile(r"^\(.+\)=$", re.MULTILINE)),
    (":label:", re.compile(r":label:")),
]
ROLE = re.compile(r"\{([\w:.+-]+)\}`([^`]*)`")
# Citations show as their bibliography key (author, year, a word of the title): jupyterlab-myst
# 2.7 reads no .bib file. The HTML book and the plain editions show author and year.
BIB_KEYS = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text()))

SETTINGS = {
    # Attach every cell (no virtualised notebook), so that every markdown cell is rendered.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
    # No toasts ("get notified about Jupyter news?", "a newer JupyterLab") over the screenshots.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# The notebook panel JupyterLab shows, its cells in order, each markdown cell as rendered.
READ_CELLS = """() => {
  // The text a reader sees, with every dropdown opened and math as its TeX source: a copy of
  // the cell, laid out off screen (innerText needs a layout), then removed.
  const readable = (myst) => {
    const copy = myst.cloneNode(true);
    copy.querySelectorAll('details').forEach(d => { d.open = true; });
    copy.querySelectorAll('.katex').forEach(k => {
      const tex = k.querySelector('annotation');
      k.replaceWith(tex ? `$${tex.textContent}$` : k.textContent);
    });
    copy.style.cssText = `position:absolute; left:-20000px; top:0; width:${myst.clientWidth}px`;
    document.body.appendChild(copy);
    const text = copy.innerText;
    copy.remove();
    return text;
  };
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook) return null;
  return Array.from(notebook.querySelectorAll('.jp-Cell')).map((cell, index) => {
    const myst = cell.classList.contains('jp-MarkdownCell')
      ? cell.querySelector('.lm-Widget.myst') : null;
    if (!myst) return {index, markdown: false};
    const first = myst.firstElementChild;
    const h1 = first && (first.matches('h1') ? first : first.querySelector(':scope > h1'));
    return {
      index,
      markdown: true,
      html: myst.innerHTML.length,
      text: readable(myst),
      unresolved: Array.from(myst.querySelectorAll('[title$="Not Found"]'))
        .map(e => ({title: e.title, text: e.textContent.trim()})),
      unknown: Array.from(myst.querySelectorAll('summary'))
        .map(s => s.textContent.trim()).filter(t => t.includes('Unknown Directive')),
      title: h1 ? h1.textContent.trim() : null,
    };
  });
}"""

# Open the notebook, then close what was open before, its kernel with it, without saving it:
# JupyterLab marks a notebook modified once its kernel starts (it rewrites kernelspec and
# language_info), and the contents API refuses the write anyway.
OPEN = """async (path) => {
  const app = window.jupyterapp;
  const before = Array.from(app.shell.widgets('main'));
  await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  for (const widget of before) {
    if (widget.sessionContext) {
      try { await widget.sessionContext.shutdown(); } catch (error) { /* already gone */ }
    }
    widget.dispose();
  }
  document.querySelectorAll('.jp-Dialog').forEach(dialog => dialog.remove());
}"""

# Cheap to poll: how many markdown cells are rendered, and a fingerprint of what they show.
PROGRESS = """() => {
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook) return null;
  const rendered = Array.from(notebook.querySelectorAll('.jp-MarkdownCell .lm-Widget.myst'))
    .filter(m => m.childElementCount > 0);
  return {
    cells: notebook.querySelectorAll('.jp-Cell').length,
    rendered: rendered.length,
    size: rendered.reduce((n, m) => n + m.textContent.length, 0),
    markers: notebook.querySelectorAll('.myst [title$="Not Found"]').length,
  };
}"""

# Bring every cell into view once (windowing is off; this is belt and braces), then the top.
SCROLL_ALL = """() => {
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook || !notebook.querySelector('.jp-Cell')) return false;
  notebook.querySelectorAll('.jp-Cell').forEach(cell => cell.scrollIntoView({block: 'center'}));
  notebook.querySelector('.jp-Cell').scrollIntoView({block: 'start'});
  notebook.scrollTop = 0;
  return true;
}"""


def notebooks() -> list[Path]:
    found = BOOK.glob("**/*.ipynb")
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snippet(text: str, start: int, end: int) -> str:
    before = text[max(0, start - CONTEXT) : start]
    after = text[end : end + CONTEXT]
    flat = f"{before}[[{text[start:end]}]]{after}".replace("\n", "⏎")
    return f"…{flat}…"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, method: str = "GET", timeout: float = 5) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
        return r.read()


def kernels_of(server_pid: int) -> list[int]:
    """Kernels started by the server: jupyter_client puts them in a session of their own."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"JPY_PARENT_PID={server_pid}".encode() in environ:
            pids.append(int(proc.name))
    return pids


def stop(server: subprocess.Popen, base: str, token: str) -> None:
    """Shut the kernels down, then the server's process group: terminate, kill after 15 s."""
    try:
        for session in json.loads(request(f"{base}/api/sessions?token={token}")):
            url = f"{base}/api/sessions/{session['id']}?token={token}"
            request(url, method="DELETE", timeout=15)
    except (OSError, ValueError):
        pass
    kernels = kernels_of(server.pid)
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
    for pid in kernels:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server of this environment on a free port, with throw-away user dirs."""
    tmp = tmp_path_factory.mktemp("lab")
    for name, values in SETTINGS.items():
        path = tmp / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        # User-level data only (nbsignatures.db, ...): the labextensions, jupyterlab-myst
        # among them, come from this environment's sys.prefix/share/jupyter, still searched.
        ("JUPYTER_DATA_DIR", "data"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    port, token = free_port(), secrets.token_hex(16)
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            "--ServerApp.open_browser=False",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
            # window.jupyterapp: one page opens the notebooks in turn, no reload of JupyterLab.
            "--LabApp.expose_app_in_browser=True",
            # Checkpoints (made when a notebook opens) under tmp, not next to the chapters.
            f"--FileCheckpoints.root_dir={tmp / 'checkpoints'}",
        ],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited:\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                request(f"{base}/api/status?token={token}")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    log_text = (tmp / "server.log").read_text()[-3000:]
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{log_text}")
                time.sleep(0.3)
        yield {"base": base, "token": token}
    finally:
        stop(server, base, token)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("LLMTHEORY_ALLOW_SKIP") == "1":
            pytest.skip(reason)
        pytest.fail(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    """One JupyterLab page for every notebook; any write to the contents API is refused."""
    context = browser.new_context(viewport=VIEWPORT)
    writes: list[str] = []

    def read_only(route):
        method, url = route.request.method, route.request.url.split("?")[0]
        # Opening a notebook creates a checkpoint: the server keeps it in its temporary folder.
        if method in ("GET", "HEAD") or (method == "POST" and url.endswith("/checkpoints")):
            route.continue_()
        else:
            writes.append(f"{method} {url}")
            route.abort()

    context.route("**/api/contents/**", read_only)
    tab = context.new_page()
    tab.goto(f"{lab['base']}/lab/workspaces/gate?token={lab['token']}")
    tab.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    tab.evaluate("() => window.jupyterapp.restored")
    yield {"tab": tab, "writes": writes}
    context.close()


def wait_rendered(tab, cells: int, expected: int, timeout: float = 60) -> list[dict]:
    """All cells shown, every markdown cell rendered by jupyterlab-myst, steady for 1 s."""
    deadline = time.monotonic() + timeout
    previous, steady, scrolled = None, 0, False
    while True:
        state = tab.evaluate(PROGRESS)
        if state and state["cells"] >= cells and state["rendered"] >= expected:
            if not scrolled:
                scrolled = tab.evaluate(SCROLL_ALL)
            steady = steady + 1 if state == previous else 0
            if steady >= 4:
                return tab.evaluate(READ_CELLS)
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not render {describe(state, cells, expected)}")
        previous = state
        tab.wait_for_timeout(250)


def describe(state: dict | None, cells: int, expected: int) -> str:
    if not state:
        return "the notebook (no notebook panel)"
    return f"it: {state['cells']} of {cells} cells, {state['rendered']} of {expected} markdown"


def quoted_keys(cells: list[dict]) -> list[re.Pattern]:
    """The keys the code cells store in ``quoted`` (an f-string key matches any filling)."""
    keys = []
    for cell in cells:
        if cell["cell_type"] == "code":
            for key in re.findall(r'quoted\[f?"([^"]+)"\]\s*=', "".join(cell["source"])):
                parts = re.split(r"\{[^}]*\}", key)
                keys.append(re.compile(".+".join(re.escape(part) for part in parts)))
    return keys


def source_findings(cell: dict, keys: list[re.Pattern]) -> list[tuple[str, str]]:
    """Roles jupyterlab-myst swallows without a trace, found in the markdown source.

    ``{glue:text}`key``` renders as the bare key. An ``{eval}`` expression shows as code until
    the cells above it have run (then as its value: test_numbers_appear_once_the_cells_have_run);
    it must name a number the chapter's code stores, ``quoted["key"]``.
    """
    source = "".join(cell["source"])
    found = []
    for match in ROLE.finditer(source):
        role, content = match.groups()
        where = snippet(source, *match.span())
        if role.startswith("glue"):
            found.append(("{glue", f"shown as the bare key {content!r} (source: {where})"))
        elif role == "eval":
            key = re.fullmatch(r'quoted\["([^"]+)"\]', content)
            if not key or not any(k.fullmatch(key.group(1)) for k in keys):
                found.append(("{eval}", f"`{content}` is no number the code stores ({where})"))
    return found


def rendered_findings(cell: dict, source: str) -> list[tuple[str, str]]:
    """Raw MyST in the rendered text, and what jupyterlab-myst marks as not found."""
    text = cell["text"]
    found = []
    for kind, pattern in RAW:
        for match in pattern.finditer(text):
            found.append((kind, f"raw in the rendered text: {snippet(text, *match.span())}"))
    roles = ROLE.findall(source)  # in order, matched one by one to the markers, as is the text
    searched: dict[str, int] = {}
    for marker in cell["unresolved"]:
        key = marker["text"]
        if marker["title"].startswith("Citation"):
            if key in BIB_KEYS:
                continue  # jupyterlab-myst has no bibliography: it shows the key, which is readable
            kind = "{cite"
        else:
            match = next((r for r in roles if key in r[1] and not r[0].startswith("cite")), None)
            if match:
                roles.remove(match)
            kind = f"{{{match[0]}}}" if match else "{ref}"
        start = text.find(key, searched.get(key, 0))
        searched[key] = start + 1
        where = snippet(text, start, start + len(key)) if start >= 0 else ""
        found.append((kind, f"{marker['title']}, shown as the bare {key!r} {where}"))
    for box in cell["unknown"]:
        found.append(("```{", f"shown as a box {box!r}"))
    return found


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: str(p.relative_to(BOOK)))
def test_notebook_renders_in_lab(lab_page, notebook):
    relative = notebook.relative_to(ROOT)
    cells = json.loads(notebook.read_text())["cells"]
    markdown = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"]
    keys = quoted_keys(cells)
    expected = sum(1 for i in markdown if "".join(cells[i]["source"]).strip())
    before = digest(notebook)
    checkpoints = notebook.parent / ".ipynb_checkpoints"
    had_checkpoints = checkpoints.exists()

    tab, writes = lab_page["tab"], lab_page["writes"]
    writes.clear()
    try:
        tab.evaluate(OPEN, str(relative))
        shown = wait_rendered(tab, len(cells), expected)
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=SCREENSHOTS / f"{notebook.stem}.png")

    findings: list[tuple[str, str]] = []
    by_index = {c["index"]: c for c in shown}
    for i in markdown:
        items = source_findings(cells[i], keys)
        if by_index.get(i, {}).get("markdown"):
            items += rendered_findings(by_index[i], "".join(cells[i]["source"]))
        findings += [(kind, f"{relative}: cell {i}: {kind}: {detail}") for kind, detail in items]

    first = shown[0] if shown else None
    title = None
    if len(shown) != len(cells):
        title = f"JupyterLab shows {len(shown)} cells, the file has {len(cells)}"
    elif not first["markdown"]:
        title = "the first cell is a code cell, not the rendered title"
    elif not first["title"]:
        title = f"the first cell starts with {first['text'][:60]!r}, not an h1"
    if title:
        findings.append(("TITLE", f"{relative}: cell 0: TITLE CHECK FAILED: {title}"))

    if writes:
        findings.append(("write", f"{relative}: JupyterLab tried to write: {writes}"))
    if digest(notebook) != before:
        findings.append(("write", f"{relative}: the file changed while JupyterLab had it open"))
    if checkpoints.exists() and not had_checkpoints:
        made = checkpoints.relative_to(ROOT)
        findings.append(("write", f"{relative}: JupyterLab created {made}"))

    counts = Counter(kind for kind, _ in findings)
    summary = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))
    messages = "\n".join(message for _, message in findings)
    if findings:
        pytest.fail(f"{len(findings)} problem(s) ({summary}):\n{messages}", pytrace=False)


RUN_ALL = """async () => {
  const app = window.jupyterapp;
  await app.commands.execute('notebook:run-all-cells');
}"""

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : null;
}"""


def test_numbers_appear_once_the_cells_have_run(lab_page):
    """Run the front chapter in JupyterLab: every {eval} then shows the number the code stored."""
    notebook = BOOK / "front" / "how_a_chapter_works.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    quoting = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and "{eval}" in "".join(c["source"])
    ]
    assert quoting, "the front chapter quotes computed numbers"
    tab = lab_page["tab"]
    tab.evaluate(OPEN, str(notebook.relative_to(ROOT)))
    expected = sum(
        1 for c in cells if c["cell_type"] == "markdown" and "".join(c["source"]).strip()
    )
    wait_rendered(tab, len(cells), expected)
    tab.evaluate(RUN_ALL)
    deadline = time.monotonic() + 180
    while True:
        shown = {c["index"]: c for c in tab.evaluate(READ_CELLS) or []}
        texts = [shown.get(i, {}).get("text", "") for i in quoting]
        idle = tab.evaluate(KERNEL_IDLE) == "idle"
        if idle and texts and all("quoted[" not in t for t in texts):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"after Run All the prose still shows expressions: {texts}")
        tab.wait_for_timeout(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / "how_a_chapter_works-after-run.png")
    sentence = next(t for t in texts if "training tokens" in t)
    assert re.search(
        r"With [\d,]+ training tokens the simulated optimism is 0\.\d{5} nats", sentence
    ), sentence
