"""Headless Chromium over the DevTools protocol: open a report, measure its layout, click, take a screenshot.

Why a real browser: the report's promises (figures sized for a laptop, no sideways scrolling, a table that sorts) are
promises about rendering, which only a browser can check. Chromium (Debian's `chromium`, installed by `make setup`)
runs headless, listens on 127.0.0.1 only, and is driven through `websockets`' synchronous client.

    with Browser(width=1400) as b:
        b.open(Path("reports/demo/report/index.html"))
        facts = b.evaluate("document.title")
        b.screenshot(Path("shot.png"))
"""
from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tokbench.errors import WorkError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page, closed (process and profile folder) on exit."""

    def __init__(self, width: int = 1400, height: int = 900, timeout: float = 30.0):
        self.width, self.height, self.timeout = width, height, timeout
        self._proc: subprocess.Popen | None = None
        self._ws = None
        self._sockets = contextlib.ExitStack()
        self._profile: str | None = None
        self._next_id = 0
        self._events: list[dict] = []

    # -- life cycle ---------------------------------------------------------------------------------------------------
    def __enter__(self) -> "Browser":
        exe = find_chromium()
        if exe is None:
            raise WorkError("no Chromium found (looked for " + ", ".join(CANDIDATES) + "): run `make setup`, which "
                            "installs Debian's chromium package")
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="tokbench-chromium-")
        self._proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={self._profile}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = self._port()
            url = self._page_socket(port)
            self._ws = self._sockets.enter_context(connect(url, max_size=None, open_timeout=self.timeout))
            self.call("Page.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self._sockets.close()
        self._ws = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _port(self) -> int:
        """Chromium writes the port it chose to DevToolsActivePort in its profile folder."""
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise WorkError(f"chromium exited at start (code {self._proc.returncode})")
            if marker.exists():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.05)
        raise WorkError(f"chromium did not open its DevTools port within {self.timeout:.0f} s")

    def _page_socket(self, port: int) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.05)
        raise WorkError("chromium opened no page")

    # -- protocol -----------------------------------------------------------------------------------------------------
    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        mid = self._next_id
        self._ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=self.timeout))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise WorkError(f"chromium: {method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            self._events.append(msg)

    def _wait_event(self, method: str) -> dict:
        for k, ev in enumerate(self._events):
            if ev.get("method") == method:
                return self._events.pop(k)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self._ws.recv(timeout=self.timeout))
            if msg.get("method") == method:
                return msg
        raise WorkError(f"chromium: no {method} within {self.timeout:.0f} s")

    # -- page ---------------------------------------------------------------------------------------------------------
    def open(self, path: str | Path) -> None:
        """Load a local file (or URL) and wait for its load event (inline images decoded by then)."""
        url = path if isinstance(path, str) and "://" in path else Path(path).resolve().as_uri()
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise WorkError(f"chromium: script failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (CSS px)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: str | Path | None = None, full_page: bool = True, max_height: int = 20000) -> bytes:
        """PNG of the page (the whole page, up to `max_height` px, or the viewport); written atomically to `path`."""
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": self.width,
                                                             "height": min(max_height, size["height"]), "scale": 1})
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        if path is not None:
            from tokbench.io import atomic_write

            with atomic_write(path, "wb", encoding=None) as handle:
                handle.write(data)
        return data


# JavaScript that reports the layout facts the report promises (used by the test and by `make demo`).
LAYOUT_JS = """(() => {
  const figs = [...document.querySelectorAll('figure.plot img')].map(i => {
    const r = i.getBoundingClientRect();
    return {title: i.alt, width: r.width, height: r.height, loaded: i.complete && i.naturalWidth > 0};
  });
  const d = document.documentElement;
  return {figures: figs, scrollWidth: d.scrollWidth, clientWidth: d.clientWidth,
          textLength: document.body.innerText.length, title: document.title};
})()"""


def layout(page: Browser) -> dict:
    return page.evaluate(LAYOUT_JS)
