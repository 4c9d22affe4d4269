"""Helpers for the explorer's tests and its screenshot: a test vocabulary, a server in a thread, headless Chromium.

Also a script that takes the README's screenshot of the page over a real model:

    .venv/bin/python tests/explorer_browser.py MODEL docs/explorer.png [--word god] [--analogy a b c]

Chromium and its driver are Debian's packages (``apt-get install chromium chromium-driver``; ``make test``
installs them where it runs as root), driven through Selenium with the system's chromedriver: nothing is
downloaded, and the browser starts with a fresh profile and its background networking off.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# words a stranger could have put in a corpus: each must show as text, never run
HOSTILE = ['<script>window.__pwned=1</script>', '<img src=x onerror="window.__pwned=1">', "a&amp;b\"'"]


def sample_vectors():
    """A small vocabulary with structure: royalty x gender (king - man + woman = queen), a fruit cluster
    holding the hostile words, and filler.  Returns (words, (V, 32) float32 vectors, counts)."""
    rng = np.random.default_rng(7)
    d = 32
    base = {name: v / np.linalg.norm(v) for name, v in zip(("royal", "male", "young", "fruit", "colour"),
                                                            rng.standard_normal((5, d)))}
    spec = {"king": ("royal", "male"), "queen": ("royal", "-male"), "prince": ("royal", "male", "young"),
            "princess": ("royal", "-male", "young"), "man": ("male",), "woman": ("-male",),
            "boy": ("male", "young"), "girl": ("-male", "young"), "apple": ("fruit",), "banana": ("fruit",),
            "cherry": ("fruit",),
            "grape": ("fruit",), "red": ("colour",), "green": ("colour",), "blue": ("colour",)}
    words, rows = [], []
    for word, parts in spec.items():
        v = sum((-1 if p[0] == "-" else 1) * base[p.lstrip("-")] for p in parts)
        words.append(word)
        rows.append(v + 0.15 * rng.standard_normal(d))
    for word in HOSTILE:
        words.append(word)
        rows.append(base["fruit"] + 0.15 * rng.standard_normal(d))
    for i in range(300):
        words.append(f"w{i:03d}")
        rows.append(rng.standard_normal(d))
    counts = np.arange(len(words), 0, -1) * 10
    return words, np.asarray(rows, dtype=np.float32), counts


@contextlib.contextmanager
def running_server(kv, name: str = "test.w2v") -> Iterator[str]:
    """The explorer over ``kv`` served by uvicorn in a thread on 127.0.0.1 (a free port); yields its URL."""
    from w2v import serve
    from w2v.explore import Explorer

    sock = serve.listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    explorer = Explorer(kv, name)
    explorer.warm()
    server = serve.make_server(explorer, sock, "127.0.0.1")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the explorer's server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return (f"{path} is not installed (Debian: apt-get install chromium chromium-driver; make test does it "
                    "as root)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A headless Chromium driven by the system's chromedriver, with a fresh profile; quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="w2v-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout: float = 10, what: str = "the page"):
    """Wait until ``condition(driver)`` is truthy; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition, f"timed out waiting for {what}")


def texts(driver, css: str) -> list[str]:
    """The text of each element matching ``css``, read in one step (the page may re-render meanwhile)."""
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
                                 css)


def screenshot(model: str, out: str, word: str | None, analogy: tuple[str, str, str] | None) -> None:
    """Open the explorer over ``model``, explore ``word``, answer ``analogy``, and save the page as PNG."""
    from selenium.webdriver.common.by import By

    from w2v import serve

    kv = serve.load_model(model)
    with running_server(kv, os.path.basename(model)) as url, chromium(1280, 1000) as driver:
        driver.get(url + ("#w=" + word if word else ""))
        wait(driver, lambda d: len(texts(d, "#neighbours li")) > 0, what="the neighbours")
        if analogy:
            for field, value in zip(("an-a", "an-b", "an-c"), analogy):
                driver.find_element(By.ID, field).send_keys(value)
            driver.find_element(By.CSS_SELECTOR, "#analogy-form button").click()
            wait(driver, lambda d: len(texts(d, "#analogy-results li")) > 0, what="the analogy")
            driver.find_element(By.ID, "sim-a").send_keys(analogy[0])
            driver.find_element(By.ID, "sim-b").send_keys(analogy[2])
            driver.find_element(By.CSS_SELECTOR, "#similarity-form button").click()
            wait(driver, lambda d: len(texts(d, "#similarity-result li")) > 0, what="the similarity")
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the viewport exactly, whole page
                               {"width": 1280, "height": min(height, 1600), "deviceScaleFactor": 1,
                                "mobile": False})
        time.sleep(0.3)
        driver.save_screenshot(out)
    print(f"{out}: the explorer over {model}")


def main() -> int:
    ap = argparse.ArgumentParser(description="Screenshot of the w2v explorer over MODEL.")
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--word")
    ap.add_argument("--analogy", nargs=3, metavar=("A", "B", "C"))
    args = ap.parse_args()
    reason = browser_missing()
    if reason:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 2
    screenshot(args.model, args.out, args.word, tuple(args.analogy) if args.analogy else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
