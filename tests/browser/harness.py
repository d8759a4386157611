"""The browser tests' and the console benchmark's world: the local server (the same router and handlers the Lambdas run, and
the console's files) on a free loopback port against DynamoDB Local, a demo org, an agent, and a
headless Chromium driven through its ChromeDriver. Every process started here is stopped by its
PID; nothing is found or killed by name."""

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "target" / "browser-screenshots"
AXE = ROOT / ".local" / "axe-core" / "axe.min.js"
# The browser runs in another zone than the org (Asia/Kolkata), so both columns of every date differ.
BROWSER_TZ = "America/New_York"
# A partner file the server seeds beside the demo org's two (`--seed-partner-file`): its name is
# the partner's, markup included, and must show as text.
PARTNER_FILE = "<img src=x onerror=alert(1)>.csv"


class Server:
    """`local-server --port 0 --seed-demo --seed-partner-file …` as a child process; reads the URL and the demo
    credentials it prints."""

    def __init__(self):
        binary = ROOT / "target" / "debug" / "local-server"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: build it first (cargo build -p partner-devtools)")
        env = dict(os.environ, TABLE_NAME=f"pp-browser-{uuid.uuid4().hex[:12]}", LOG_LEVEL="warn")
        if "AWS_ENDPOINT_URL_DYNAMODB" not in env:
            raise RuntimeError("AWS_ENDPOINT_URL_DYNAMODB is not set: run through `make test`")
        args = [str(binary), "--port", "0", "--seed-demo", "--seed-partner-file", PARTNER_FILE]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(60):
            self.stop()
            raise RuntimeError("local-server did not start:\n" + "\n".join(self.lines))
        out = "\n".join(self.lines)
        self.base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", out).group(1)
        admin = re.search(r"admin client: (\S+)\s+secret: (\S+)", out)
        self.admin = (admin.group(1), admin.group(2))

    def _read(self, ready):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "listening on" in line:
                ready.set()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)


class Api:
    """A client of the API with one set of credentials (what the tests compare the page with)."""

    def __init__(self, base, key, secret):
        self.base, self.key, self.secret = base, key, secret

    def call(self, method, path, body=None, query=None, headers=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        req = urllib.request.Request(url, method=method, headers={"Authorization": f"Basic {token}", **(headers or {})})
        if body is not None:
            req.data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, body=None, query=None):
        status, out = self.call(method, path, body, query)
        assert status in (200, 201), f"{method} {path} -> {status} {out}"
        return out





def make_driver(width=1280, height=900):
    """Headless Chromium through Debian's ChromeDriver (selenium starts the driver on a free port
    and `quit()` stops it by its PID), in another time zone than the org's."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--window-size={width},{height}"):
        options.add_argument(flag)
    service = Service("/usr/bin/chromedriver", env=dict(os.environ, TZ=BROWSER_TZ))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(30)
    # A window cannot be narrower than Chromium allows (about 500 px): a phone's width is emulated.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver


class Console:
    """What a person does with the console, in selenium steps."""

    def __init__(self, driver, base):
        self.d, self.base = driver, base
        # Views are rebuilt as they change: an element read a moment ago may be gone; look again.
        self.wait = WebDriverWait(driver, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))

    def open(self):
        self.d.get(self.base + "/console/")
        return self

    def el(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def visible(self, css):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css):
        return self.el(css).text

    def field(self, label, within=None):
        """The control a <label> with this text names (by its `for`)."""
        root = within or self.d
        for lab in root.find_elements(By.TAG_NAME, "label"):
            if lab.text.strip() == label and lab.is_displayed():
                return self.d.find_element(By.ID, lab.get_attribute("for"))
        raise AssertionError(f"no visible field labelled {label!r}")

    def button(self, text, within=None):
        root = within or self.d
        def find(_):
            for b in root.find_elements(By.TAG_NAME, "button"):
                if b.text.strip() == text and b.is_displayed():
                    return b
            return False
        return self.wait.until(find, f"no visible button {text!r}")

    def sign_in(self, api):
        self.open()
        self.field("Client key").send_keys(api.key)
        self.field("Secret").send_keys(api.secret)
        self.button("Sign in").click()
        self.el("#signed-in-as")
        return self

    def search(self, by, value):
        self.button("Find member").click()
        from selenium.webdriver.support.ui import Select
        Select(self.field("Find by")).select_by_value(by)
        box = self.field("Value")
        box.clear()
        box.send_keys(value)
        self.button("Search").click()

    def member_shown(self, customer_id):
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "member-title"), f"Member {customer_id}"))
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline li"))

    def card(self, program):
        return self.el(f'article.membership[data-program="{program}"]')

    def dialog(self):
        return self.visible("dialog[open]")

    def screenshot(self, name):
        """The whole page as it stands (not only the viewport), from the top."""
        png = self.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(png["data"]))

    def axe(self):
        """axe-core's serious and critical violations on the page as it stands."""
        self.d.execute_script(AXE.read_text())
        result = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => "
            "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
        return [v for v in result if v["impact"] in ("serious", "critical")]
