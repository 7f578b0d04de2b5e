"""The JupyterLab path of the README, in a real browser: `paperlib lab` on a paper's smoke profile, run all.

Debian's chromium driven by PyPI playwright (Playwright's own browser download cannot work offline).
Skipped, with the reason, where either is missing; scripts/setup.sh installs both where apt-get exists.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = Path(os.environ.get("PAPERLIB_CHROMIUM", "/usr/lib/chromium/chromium"))  # the binary, not the wrapper
ARTIFACTS = ROOT / "test-artifacts"
PAPER = "compsum"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="PyPI playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium binary at {CHROMIUM} (apt-get install chromium, or set PAPERLIB_CHROMIUM)")
    port, token = _free_port(), hashlib.sha256(os.urandom(16)).hexdigest()[:32]
    settings = tmp_path / "settings"
    for plugin, value in (("notebook-extension/tracker", {"windowingMode": "none"}),  # render every cell
                          ("apputils-extension/notification", {"fetchNews": "false"})):
        f = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    env = dict(os.environ, PAPERLIB_RUN_DIR=str(tmp_path / "run"), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    cmd = [sys.executable, "-m", "paperlib", "lab", PAPER, "--profile", "smoke", "--dir", str(tmp_path / "lab"),
           "--", "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
           "--expose-app-in-browser", "--ServerApp.port_retries=0", f"--LabApp.user_settings_dir={settings}"]
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("JupyterLab exited: " + (tmp_path / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer in 60 s: " + (tmp_path / "lab.log").read_text()[-2000:])
        yield url, token, tmp_path / "lab" / f"{PAPER}.ipynb"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_run_all_cells_in_jupyterlab_shows_figures_and_no_error(lab):
    from playwright.sync_api import sync_playwright

    url, token, copy = lab
    source = (ROOT / "notebooks" / f"{PAPER}.py").read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/{copy.name}?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=60_000)
        page.set_default_timeout(60_000)
        # the notebook's kernel connected and idle (asked of JupyterLab itself, polled: never an await that hangs)
        page.wait_for_function("""() => {
            const app = window.jupyterapp;
            if (!app) return false;
            for (const w of app.shell.widgets('main')) {
                const k = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                if (k && k.status === 'idle' && k.connectionStatus === 'connected') return true;
            }
            return false;
        }""", timeout=120_000)
        # run every cell as the Run menu does; fire and forget, the command's promise settles when all ran
        page.evaluate("""() => {
            const app = window.jupyterapp;
            for (const w of app.shell.widgets('main')) { if (w.sessionContext) app.shell.activateById(w.id); }
            app.commands.execute('notebook:run-all-cells');
            return true;
        }""")
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.innerText.includes(\"paper's claims\"))",
                timeout=300_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-lab-failed.png"))
            raise
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        images = page.locator(".jp-OutputArea-output img").count()
        if images:
            page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "browser-lab.png"))
        page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:save'); return true; }")
        page.wait_for_timeout(2500)
        browser.close()
    saved = json.loads(copy.read_text())
    errors = [o for c in saved["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("ename") + ": " + errors[0].get("evalue", "")
    assert images >= 1, f"no figure rendered in the page (screenshot: {ARTIFACTS / 'browser-lab.png'})"
    assert sum("image/png" in o.get("data", {}) for c in saved["cells"] for o in c.get("outputs", [])) >= 1
    # the tracked source was not touched by JupyterLab's autosave
    assert (ROOT / "notebooks" / f"{PAPER}.py").read_bytes() == source
