"""A minimal Chrome DevTools Protocol client over Chromium's --remote-debugging-pipe (standard library only).

`chromium --dump-dom` shows what a page drew but not its console; the DevTools protocol gives both: console messages,
uncaught exceptions and failed loads as events, and JavaScript evaluated in the page. The pipe needs no port and no
websocket library: Chromium reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time


class CDPError(RuntimeError): pass


class Browser:
    """Headless Chromium with no network: every host name fails to resolve and any proxy use goes nowhere.
    `loopback=True` lets it reach 127.0.0.1 alone (a page served by this machine, e.g. `aerial-nb label`'s)."""

    def __init__(self, chromium: str, window=(1400, 900), loopback: bool = False):
        self.profile = tempfile.mkdtemp(prefix="aerial-cdp-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def child_fds():   # Chromium expects its command pipe on fd 3 and its reply pipe on fd 4
            import fcntl
            r, w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3); os.dup2(w, 4)

        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
               "--host-resolver-rules=MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if loopback else ""),
               "--proxy-server=http://127.0.0.1:9",   # loopback bypasses a proxy in Chromium
               # file:// pages may read their neighbours (the site's search index is a script beside the page)
               "--allow-file-access-from-files", f"--user-data-dir={self.profile}",
               f"--window-size={window[0]},{window[1]}", "about:blank"]
        self.proc = subprocess.Popen(cmd, pass_fds=(3, 4), preexec_fn=child_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r); os.close(from_chrome_w)
        self._buf, self._id, self.events = b"", 0, []
        self.session = None

    # --- protocol -------------------------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.time() > deadline: raise TimeoutError("no message from Chromium")
            import select
            ready, _, _ = select.select([self._r], [], [], max(0.0, min(1.0, deadline - time.time())))
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk: raise CDPError("Chromium closed its DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 60) -> dict:
        "Send a command and return its result; events that arrive meanwhile are kept in `self.events`."
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session: msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m: raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m: self.events.append(m)

    def pump(self, seconds: float):
        "Collect events for `seconds`."
        deadline = time.time() + seconds
        while True:
            try: m = self._read_message(deadline)
            except TimeoutError: return
            if "method" in m: self.events.append(m)

    # --- pages ----------------------------------------------------------------------------------------------------
    def open_tab(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"): self.send(f"{domain}.enable")
        return self

    def goto(self, url: str, settle: float = 1.0, timeout: float = 60) -> list[dict]:
        "Load `url`, wait for its load event and `settle` seconds more; return the console errors it caused."
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        deadline = time.time() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline: raise TimeoutError(f"{url} did not finish loading in {timeout} s")
            self.pump(0.2)
        self.pump(settle)
        return self.errors()

    def errors(self) -> list[dict]:
        "Uncaught exceptions, console.error/assert calls and error-level log entries (failed loads, CSP, ...)."
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append({"kind": "exception", "text": (d.get("exception") or {}).get("description") or d.get("text"),
                            "url": d.get("url", "")})
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append({"kind": "console." + p["type"], "url": "",
                            "text": " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))})
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append({"kind": "log." + p["entry"]["source"], "text": p["entry"]["text"],
                            "url": p["entry"].get("url", "")})
        return out

    def js(self, expression: str, timeout: float = 60):
        "Evaluate `expression` in the page (promises awaited) and return its value."
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      timeout=timeout)
        if "exceptionDetails" in r: raise CDPError(f"{expression[:80]}…: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path) -> None:
        import base64
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f: f.write(base64.b64decode(data))

    def close(self):
        try: self.send("Browser.close", session=False, timeout=10)
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        for fd in (self._r, self._w):
            try: os.close(fd)
            except OSError: pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self): return self.open_tab()
    def __exit__(self, *exc): self.close()
