"""A small client of the Chrome DevTools protocol over --remote-debugging-pipe, for the report
pages' browser test: Debian's Chromium, started as the machine's notes say (headless, no
sandbox as root, no background networking), a fresh profile each time, and no library between
(Playwright's Python client needs greenlet>=3.1, which httpbin, the local mesh's external host,
refuses on Python 3.11). Messages are JSON, each ended by a NUL byte: fd 3 into Chromium,
fd 4 out of it (https://chromedevtools.github.io/devtools-protocol/)."""

import base64
import fcntl
import json
import os
import pathlib
import queue
import subprocess
import threading
import time

CHROMIUM = pathlib.Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe")
TIMEOUT = 30.0


class ProtocolError(AssertionError):
    """Chromium answered a command with an error (e.g. no box model: the element is not rendered)."""


class Chromium:
    """One headless Chromium and its protocol connection; close() ends it."""

    def __init__(self, profile: pathlib.Path, executable: pathlib.Path = CHROMIUM):
        self.log = profile.with_name(profile.name + ".log")
        """Chromium's own output: its last lines are in the error when it goes away."""
        into_read, self._into = os.pipe()
        self._out, out_write = os.pipe()
        # Above 4, so that the shell's redirections below cannot overwrite one end with the other.
        into_read, out_write = (_above_four(fd) for fd in (into_read, out_write))
        # bash (dash takes no fd above 9) puts our pipe ends where Chromium expects them (fd 3 in, fd 4 out), then becomes Chromium.
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{into_read} 4>&{out_write}', "bash", str(executable), *FLAGS,
             f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(into_read, out_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"), start_new_session=True)
        os.close(into_read)
        os.close(out_write)
        self._next = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._out, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                while b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]].put(message)
                    else:
                        self.events.append(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict:
        with self._lock:
            self._next += 1
            ident = self._next
            self._replies[ident] = queue.Queue()
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._into, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
            raise AssertionError(f"Chromium is gone (exit code {self.process.poll()}); its log {self.log} ends: "
                                 + " | ".join(tail)) from None
        try:
            reply = self._replies[ident].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"Chromium did not answer {method} within {timeout}s") from None
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error'].get('message')}")
        return reply["result"]

    def wait_for(self, method: str, session: str, since: int, timeout: float = TIMEOUT) -> dict:
        """The first event ``method`` of ``session`` at or after index ``since`` of self.events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events[since:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {method} within {timeout}s")

    def new_page(self, *, javascript: bool = True, width: int = 1280, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "DOM"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        if not javascript:
            self.send("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
        return Page(self, session)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._into)


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Page:
    """One tab, through its flattened session."""

    def __init__(self, browser: Chromium, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def open(self, path: pathlib.Path) -> None:
        since = len(self.browser.events)
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self.browser.wait_for("Page.loadEventFired", self.session, since)

    def node(self, selector: str, root: int | None = None) -> int:
        """The first element ``selector`` matches. Node ids hold until the next DOM.getDocument:
        pass ``root`` to compare them with another query's."""
        root = root or self.root()
        found = self.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert found, f"nothing on the page matches {selector!r}"
        return found

    def root(self) -> int:
        return self.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]

    def text(self, selector: str) -> str:
        """The element's markup (its text is in it), read through the DOM: works with JavaScript off."""
        return self.send("DOM.getOuterHTML", {"nodeId": self.node(selector)})["outerHTML"]

    def visible(self, selector: str) -> bool:
        """Is the first element ``selector`` matches rendered with a size, and not folded away in a
        closed <details> (whose content Chromium may still lay out, so the box alone does not tell)?"""
        root = self.root()
        node = self.node(selector, root)
        try:
            quad = self.send("DOM.getBoxModel", {"nodeId": node})["model"]["content"]
        except ProtocolError:
            return False
        # Its subject inside a closed <details>, outside that one's <summary> (``selector`` is one complex selector).
        folded = f"{selector}:is(details:not([open]) > :not(summary), details:not([open]) > :not(summary) *)"
        hidden = self.send("DOM.querySelectorAll", {"nodeId": root, "selector": folded})["nodeIds"]
        return node not in hidden and max(quad[0::2]) > min(quad[0::2]) and max(quad[1::2]) > min(quad[1::2])

    def attribute(self, selector: str, name: str) -> str | None:
        values = self.send("DOM.getAttributes", {"nodeId": self.node(selector)})["attributes"]
        pairs = dict(zip(values[0::2], values[1::2], strict=True))
        return pairs.get(name)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element, as a person makes it."""
        node = self.node(selector)
        self.send("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
        quad = self.send("DOM.getBoxModel", {"nodeId": node})["model"]["content"]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and the browser's own error log lines of this page."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif event["method"] == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('source')}: {params['entry'].get('text')} "
                             f"{params['entry'].get('url', '')}")
        return found

    def screenshot(self, path: pathlib.Path) -> pathlib.Path:
        """The whole page as PNG."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": size["width"],
                                                             "height": size["height"], "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
