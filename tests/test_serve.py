"""The explorer (``w2v serve``): its JSON API through a real HTTP server, every 4xx, the Host check, escaping,
the command line, and the page itself in headless Chromium (skipped, with the reason, where it is missing)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from urllib.parse import quote, urlsplit

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install -e '.[serve]')")

from explorer_browser import (
    HOSTILE,
    browser_missing,
    chromium,
    running_server,
    sample_vectors,
    texts,
    wait,
)

from w2v import cli, serve
from w2v.errors import ModelFileError
from w2v.explore import MAX_WORD_CHARS, ExploreError, Explorer, check_int
from w2v.plot import pca_2d
from w2v.vectors import KeyedVectors


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    words, vecs, counts = sample_vectors()
    path = tmp_path_factory.mktemp("serve") / "sample.w2v"
    KeyedVectors(words, vecs, counts).save(path)
    return str(path)


@pytest.fixture(scope="module")
def kv(model_path):
    return serve.load_model(model_path)  # memory-mapped, as `w2v serve` loads it


@pytest.fixture(scope="module")
def url(kv):
    with running_server(kv, "sample.w2v") as base:
        yield base


def call(base: str, path: str, method: str = "GET", host: str | None = "default", headers=()):
    """One request on a fresh connection: (status, headers, body: parsed JSON or bytes)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host == "default":
            host = parts.netloc
        if host is not None:
            conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    if got.get("content-type", "").startswith("application/json"):
        body = json.loads(body)
    return resp.status, got, body


def get(base, path, **kw):
    status, _, body = call(base, path, **kw)
    return status, body


def q(text: str) -> str:
    return quote(text, safe="")


# -- the endpoints -------------------------------------------------------------------------------------
def test_info(url, kv):
    status, body = get(url, "/api/info")
    assert status == 200
    assert body["model"] == "sample.w2v" and body["words"] == len(kv) and body["dims"] == 32
    assert body["counts"] is True and body["methods"] == ["3cosadd", "3cosmul"]
    assert body["limits"] == {"word_chars": 500, "topn": 100, "map_neighbours": 100, "completions": 50}
    assert body["examples"] and all(w in kv for w in body["examples"])


def test_complete(url, kv):
    status, body = get(url, "/api/complete?prefix=pr")
    assert status == 200 and body == {"prefix": "pr", "words": ["prince", "princess"], "matches": 2}
    status, body = get(url, "/api/complete?prefix=w&limit=5")
    assert body["words"] == ["woman", "w000", "w001", "w002", "w003"] and body["matches"] == 301  # frequent first
    assert get(url, "/api/complete?prefix=zzz")[1]["words"] == []
    assert get(url, "/api/complete?prefix=" + q("<img"))[1]["words"] == [HOSTILE[1]]
    assert len(get(url, "/api/complete?prefix=w&limit=50")[1]["words"]) == 50


def test_complete_edges(kv):
    ex = Explorer(KeyedVectors(["a\U0010ffff", "a\U0010ffffb", "b", "a"], np.eye(4, dtype=np.float32)))
    assert ex.complete("a\U0010ffff")["words"] == ["a\U0010ffff", "a\U0010ffffb"]
    assert ex.complete("a")["words"] == ["a\U0010ffff", "a\U0010ffffb", "a"]
    assert ex.complete("A")["words"] == []


def test_neighbours(url, kv):
    status, body = get(url, "/api/neighbours?word=king&topn=5")
    assert status == 200 and body["word"] == "king" and body["count"] == kv.get_count("king")
    want = kv.most_similar("king", topn=5)
    assert [n["word"] for n in body["neighbours"]] == [w for w, _ in want]
    np.testing.assert_allclose([n["cosine"] for n in body["neighbours"]], [s for _, s in want], atol=1e-6)
    assert body["neighbours"][0]["word"] == "prince"
    assert [n["count"] for n in body["neighbours"]] == [kv.get_count(w) for w, _ in want]
    assert len(get(url, "/api/neighbours?word=king")[1]["neighbours"]) == 10
    assert len(get(url, "/api/neighbours?word=king&topn=100")[1]["neighbours"]) == 100


def test_similarity(url, kv):
    status, body = get(url, "/api/similarity?a=king&b=queen")
    assert status == 200 and body["a"] == "king" and body["b"] == "queen"
    assert body["cosine"] == pytest.approx(kv.similarity("king", "queen"), abs=1e-6)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy(url, kv, method):
    status, body = get(url, f"/api/analogy?a=man&b=king&c=woman&method={method}&topn=3")
    assert status == 200 and body["method"] == method and len(body["answers"]) == 3
    want = kv.analogy("man", "king", "woman", topn=3, method=method)
    assert [a["word"] for a in body["answers"]] == [w for w, _ in want] and want[0][0] in ("queen", "princess")
    np.testing.assert_allclose([a["score"] for a in body["answers"]], [s for _, s in want], atol=1e-6)
    default = get(url, "/api/analogy?a=man&b=king&c=woman")[1]
    assert default["method"] == "3cosadd" and default["answers"][0]["word"] == "queen"


def test_map(url, kv):
    status, body = get(url, "/api/map?word=apple&n=6")
    assert status == 200 and body["word"] == "apple" and len(body["points"]) == 7
    assert body["points"][0]["word"] == "apple" and body["points"][0]["cosine"] == 1.0
    words = [p["word"] for p in body["points"]]
    assert words[1:] == [w for w, _ in kv.most_similar("apple", topn=6)]
    coords, explained = pca_2d(np.stack([kv.get_vector(w, norm=True) for w in words]))
    np.testing.assert_allclose([[p["x"], p["y"]] for p in body["points"]], coords, atol=1e-5)
    np.testing.assert_allclose(body["explained"], explained, atol=1e-5)
    assert len(get(url, "/api/map?word=apple")[1]["points"]) == 26


# -- every 4xx -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, message", [
    ("/api/neighbours", "'word' is required"),
    ("/api/neighbours?word=", "'word' must be a non-empty word"),
    ("/api/neighbours?word=king&topn=0", "'topn' must be an int in [1, 100]; got 0"),
    ("/api/neighbours?word=king&topn=101", "'topn' must be an int in [1, 100]; got 101"),
    ("/api/neighbours?word=king&topn=-1", "'topn' must be an int in [1, 100]; got '-1'"),
    ("/api/neighbours?word=king&topn=1.5", "'topn' must be an int in [1, 100]; got '1.5'"),
    ("/api/neighbours?word=king&topn=" + "9" * 400, "'topn' must be an int in [1, 100]"),
    ("/api/neighbours?word=king&topn=%EF%BC%95", "'topn' must be an int"),  # a full-width 5 is not a digit here
    ("/api/neighbours?word=" + "x" * (MAX_WORD_CHARS + 1), "'word' must be at most 500 characters; got 501"),
    ("/api/neighbours?word=king&word=queen", "give 'word' once"),
    ("/api/neighbours?word=king&path=/etc/passwd", "unknown parameter 'path'; /api/neighbours takes word, topn"),
    ("/api/info?x=1", "unknown parameter 'x'; /api/info takes no parameters"),
    ("/api/complete?prefix=", "'prefix' must be a non-empty word"),
    ("/api/complete?prefix=k&limit=51", "'limit' must be an int in [1, 50]"),
    ("/api/similarity?a=king", "'b' is required"),
    ("/api/analogy?a=man&b=king", "'c' is required"),
    ("/api/analogy?a=man&b=king&c=woman&method=cosine", "'method' must be one of 3cosadd, 3cosmul; got 'cosine'"),
    ("/api/analogy?a=man&b=king&c=woman&topn=500", "'topn' must be an int in [1, 100]"),
    ("/api/map?word=king&n=0", "'n' must be an int in [1, 100]"),
    ("/api/map?word=king&n=101", "'n' must be an int in [1, 100]"),
])
def test_bad_request(url, path, message):
    status, body = get(url, path)
    assert status == 400 and body["error"] == "bad_request"
    assert message in body["message"]


@pytest.mark.parametrize("path, word", [
    ("/api/neighbours?word=kng", "kng"), ("/api/map?word=kng", "kng"), ("/api/similarity?a=king&b=qeen", "qeen"),
    ("/api/analogy?a=man&b=king&c=wman", "wman"),
])
def test_unknown_word(url, path, word):
    status, body = get(url, path)
    assert status == 404 and body["error"] == "unknown_word" and body["word"] == word
    assert body["suggestions"] and body["suggestions"][0] in ("king", "queen", "woman")
    assert f"word {word!r} is not in the vocabulary; did you mean" in body["message"]


def test_not_found_and_methods(url):
    for path in ("/nope", "/api", "/api/neighbours/king", "/static/serve.py", "/static/..%2Fserve.py",
                 "/static/../serve.py", "/static/index.html", "/api/info/"):
        status, body = get(url, path)
        assert status == 404 and body["error"] == "not_found", path
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, body = get(url, "/api/info", method=method)
        assert status == 405 and body["error"] == "method_not_allowed"
    status, _headers, body = call(url, "/", method="HEAD")
    assert status == 200 and body == b""


def test_query_string_bound(url):
    status, body = get(url, "/api/complete?prefix=" + "a" * (serve.MAX_QUERY_BYTES + 1))
    assert status == 414 and body["error"] == "too_long"


# -- the Host check (DNS rebinding) --------------------------------------------------------------------
def test_host_check(url):
    port = urlsplit(url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert get(url, "/api/info", host=host)[0] == 200, host
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "127.0.0.1", f"127.0.0.2:{port}",
                 f"localhost.evil.example:{port}", f"127.0.0.1:{port}@evil.example", ""):
        for path in ("/api/info", "/", "/static/app.js"):
            status, body = get(url, path, host=host)
            assert status == 400 and body["error"] == "bad_host", (host, path)
    status, body = get(url, "/api/info", host=f"127.0.0.1:{port}", headers=[("Host", f"evil.example:{port}")])
    assert status == 400  # two Host headers: refused by the HTTP layer (h11) before the check
    assert get(url, "/api/info", host=None)[0] == 400  # HTTP/1.1 without Host: refused by the HTTP layer
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # HTTP/1.0 may omit it: ours
        raw.sendall(b"GET /api/info HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["message"].startswith("no Host header")


def test_startup_line_says_who_can_reach_it():
    assert serve.where("127.0.0.1", 8000) == ("at http://127.0.0.1:8000/ (loopback only: this machine alone can "
                                              "open it; Ctrl-C stops)")
    assert serve.where("::1", 80).startswith("at http://[::1]:80/ (loopback only")
    assert serve.where("0.0.0.0", 9).startswith("at http://127.0.0.1:9/ (listening on every interface, but "
                                                "answering only to the localhost names")
    assert serve.where("::", 9).startswith("at http://[::1]:9/ (listening on every interface")
    assert "anyone who reaches 192.168.1.5 can query the model" in serve.where("192.168.1.5", 9)


def test_short_ipv4_forms_are_known_for_what_they_are():
    assert serve.canonical_host("0") == "0.0.0.0" and serve.canonical_host("127.1") == "127.0.0.1"
    assert serve.canonical_host("localhost") == "localhost" and serve.canonical_host("::1") == "::1"
    assert "listening on every interface" in serve.where(serve.canonical_host("0"), 9)


def test_idle_connections_are_closed_and_cannot_hold_every_slot(kv, monkeypatch):
    monkeypatch.setattr(serve, "HEAD_SECONDS", 0.5)
    with running_server(kv, "sample.w2v") as base:
        parts = urlsplit(base)
        idle = [socket.create_connection((parts.hostname, parts.port)) for _ in range(serve.MAX_CONNECTIONS)]
        try:
            idle[0].sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
            time.sleep(1.5)
            for s in idle:  # all closed by the server
                s.settimeout(5)
                assert s.recv(100) == b""
            assert get(base, "/api/info")[0] == 200
        finally:
            for s in idle:
                s.close()


def test_a_slow_pipelined_request_is_answered_whole(kv, monkeypatch):
    """The head deadline is for heads: a request received behind another and still computing when the
    deadline comes is answered, not cut."""
    monkeypatch.setattr(serve, "HEAD_SECONDS", 0.5)
    real = Explorer.info

    def slow_info(self):
        time.sleep(0.8)
        return real(self)
    monkeypatch.setattr(Explorer, "info", slow_info)
    with running_server(kv, "sample.w2v") as base:
        parts = urlsplit(base)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
            head = f"GET /api/info HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
            s.sendall(head + head)  # two requests in one write
            got = b""
            while got.count(b"HTTP/1.1 200") < 2 or not got.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                assert chunk, f"closed after {got.count(b'HTTP/1.1 200')} answer(s)"
                got += chunk


def test_allowed_hosts():
    assert serve.allowed_hosts("127.0.0.1", 8000) == {"localhost:8000", "127.0.0.1:8000", "[::1]:8000"}
    assert "[::1]:8000" in serve.allowed_hosts("::1", 8000)
    assert "myhost.lan:9000" in serve.allowed_hosts("MyHost.lan", 9000)
    assert "localhost" in serve.allowed_hosts("127.0.0.1", 80) and "localhost" not in serve.allowed_hosts(
        "127.0.0.1", 8000)


# -- escaping and what the page loads ------------------------------------------------------------------
def test_hostile_words_come_back_as_json(url, kv):
    status, headers, body = call(url, "/api/neighbours?word=apple&topn=20")
    assert headers["content-type"] == "application/json" and headers["x-content-type-options"] == "nosniff"
    assert set(HOSTILE) <= {n["word"] for n in body["neighbours"]}
    status, body = get(url, "/api/neighbours?word=" + q(HOSTILE[0]))
    assert status == 200 and body["word"] == HOSTILE[0]
    status, body = get(url, "/api/neighbours?word=" + q("<script>x"))
    assert status == 404 and body["word"] == "<script>x"


def test_security_headers(url):
    for path in ("/", "/static/app.js", "/static/style.css", "/api/info", "/nope", "/api/neighbours?word=zz"):
        _status, headers, _ = call(url, path)
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp, path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
        assert "server" not in headers


def test_page_and_static_files(url):
    status, headers, body = call(url, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script src="/static/app.js" defer></script>' in body
    assert call(url, "/static/app.js")[1]["content-type"].startswith("text/javascript")
    assert call(url, "/static/style.css")[1]["content-type"].startswith("text/css")


def test_page_ships_in_the_package_and_loads_nothing_from_elsewhere():
    static = resources.files("w2v").joinpath("static")
    names = sorted(p.name for p in static.iterdir())
    assert names == ["app.js", "index.html", "style.css"]
    html, js, css = (static.joinpath(n).read_text("utf-8") for n in ("index.html", "app.js", "style.css"))
    assert not re.search(r"(src|href)\s*=\s*\"(?!/static/|data:)", html)  # only our files (and a data: icon)
    assert "url(" not in css and "@import" not in css
    assert re.findall(r"https?://[^\s\"'`]+", html + js + css) == ["http://www.w3.org/2000/svg"]  # a namespace
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")) as f:
        assert '"static/*"' in f.read()  # package data: the page ships with the wheel


# -- the server ----------------------------------------------------------------------------------------
def test_latency_and_concurrency(url):
    """Keep-alive requests answer in well under the 40 ms a missing TCP_NODELAY costs; 16 at once all succeed."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    times = []
    for _ in range(10):
        t = time.perf_counter()
        conn.request("GET", "/api/neighbours?word=king")
        assert conn.getresponse().read()
        times.append(time.perf_counter() - t)
    conn.close()
    assert sorted(times)[5] < 0.025, times
    results = []

    def worker(i):
        results.append(get(url, f"/api/map?word=w{i:03d}&n=30")[0])
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [200] * 16


def test_load_model(tmp_path, kv, caplog):
    assert kv._mapped  # a native file is memory-mapped
    text = tmp_path / "v.txt"
    plain = [w for w in kv.index_to_key if " " not in w]  # the word2vec format holds no spaces
    KeyedVectors(plain, kv[plain]).save_word2vec_format(text, binary=False)
    loaded = serve.load_model(str(text))  # read into memory, without the warning mmap=True would give
    assert not loaded._mapped and loaded.index_to_key == plain and not caplog.records
    empty = tmp_path / "empty.w2v"
    KeyedVectors([], np.zeros((0, 4), np.float32)).save(empty)
    with pytest.raises(ModelFileError, match="holds no vectors"):
        serve.load_model(str(empty))


def test_a_word_is_searched_once(kv, monkeypatch):
    """The page asks for a word's neighbours, then its map: one pass over the matrix, not two."""
    explorer = Explorer(kv)
    calls = []
    real = kv.most_similar
    monkeypatch.setattr(kv, "most_similar", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert explorer.neighbours("king", "5")["neighbours"] == explorer.neighbours("king", "15")["neighbours"][:5]
    assert [p["word"] for p in explorer.map("king", "25")["points"][1:6]] == [
        n["word"] for n in explorer.neighbours("king", "5")["neighbours"]]
    assert calls == [("king",)]
    with pytest.raises(KeyError):
        explorer.neighbours("kng")


def test_check_int():
    assert check_int(None, "n", 5, 3) == 3 and check_int("5", "n", 5, 3) == 5 and check_int(" 2 ", "n", 5, 3) == 2
    for bad in ("", "0", "6", "1e2", "0x3", True, 2.0, "٣"):
        with pytest.raises(ExploreError):
            check_int(bad, "n", 5, 3)


# -- the command line ----------------------------------------------------------------------------------
def test_cli_serve_runs_and_stops(model_path):
    proc = subprocess.Popen([sys.executable, "-m", "w2v", "serve", model_path, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "loopback only" in line and "Ctrl-C stops" in line, line + proc.stderr.read()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        status, body = get(found.group(0), "/api/info")
        assert status == 200 and body["model"] == "sample.w2v"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_serve_missing_extra(model_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now raises ImportError
    assert cli.main(["serve", model_path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'w2v[serve]'" in err and "uvicorn" in err


def test_cli_serve_errors(model_path, tmp_path, capsys):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        assert cli.main(["serve", model_path, "--port", str(blocker.getsockname()[1])]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot listen on 127.0.0.1:" in err and "another --port" in err
    finally:
        blocker.close()
    assert cli.main(["serve", str(tmp_path / "missing.w2v")]) == 2
    assert "missing.w2v" in capsys.readouterr().err
    assert cli.main(["serve", model_path, "--port", "70000"]) == 2
    assert "must be at most 65535" in capsys.readouterr().err
    assert cli.main(["serve", model_path, "--host", "no-such-host.invalid"]) == 2
    assert "cannot listen on no-such-host.invalid" in capsys.readouterr().err


# -- the page in a real browser ------------------------------------------------------------------------
_NO_BROWSER = browser_missing()


@pytest.mark.skipif(_NO_BROWSER is not None, reason=f"browser test: {_NO_BROWSER}")
def test_page_in_chromium(url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def shown_word(d):
        return d.find_element(By.ID, "nb-word").text

    with chromium() as driver:
        driver.get(url)
        wait(driver, lambda d: "sample.w2v" in d.find_element(By.ID, "model-info").text, what="the model info")
        # words are trimmed of what Python splits on only: a byte-order mark is part of a word
        assert driver.execute_script("return trimWord('\\u3000\\ufeffbom\\u00a0 ')") == "\ufeffbom"
        # type a word: completion offers it; choosing it shows its neighbours (bars) and its map
        box = driver.find_element(By.ID, "q")
        box.clear()
        box.send_keys("kin")
        wait(driver, lambda d: "king" in texts(d, "#completions li"), what="the completion")
        box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
        wait(driver, lambda d: shown_word(d).startswith("king") and "prince" in texts(d, "#neighbours li button"),
             what="the neighbours of king")
        assert driver.execute_script("return location.hash") == "#w=king"
        widths = driver.execute_script("return [...document.querySelectorAll('#neighbours .fill')]"
                                       ".map(e => e.style.width)")
        assert len(widths) == 15 and all(w.endswith("%") for w in widths)
        assert texts(driver, "#map text")[0] == "king"
        # follow a neighbour, then a word of the map
        driver.find_element(By.XPATH, "//ol[@id='neighbours']//button[text()='prince']").click()
        wait(driver, lambda d: shown_word(d).startswith("prince") and texts(d, "#map text")[:1] == ["prince"],
             what="the neighbours of prince")
        target = next(t for t in texts(driver, "#map text")[1:] if t in ("queen", "princess", "king"))
        svg_text = f"//*[local-name()='svg']//*[local-name()='text'][text()='{target}']"
        driver.find_element(By.XPATH, svg_text).click()
        wait(driver, lambda d: shown_word(d).startswith(target), what=f"the map's {target}")
        # back goes to the word before
        driver.back()
        wait(driver, lambda d: shown_word(d).startswith("prince"), what="back to prince")
        # an analogy
        for field, value in (("an-a", "man"), ("an-b", "king"), ("an-c", "woman")):
            driver.find_element(By.ID, field).send_keys(value)
        driver.find_element(By.CSS_SELECTOR, "#analogy-form button").click()
        wait(driver, lambda d: texts(d, "#analogy-results li button")[:1] == ["queen"], what="the analogy")
        # the similarity of two words
        driver.find_element(By.ID, "sim-a").send_keys("king")
        driver.find_element(By.ID, "sim-b").send_keys("queen")
        driver.find_element(By.CSS_SELECTOR, "#similarity-form button").click()
        wait(driver, lambda d: texts(d, "#similarity-result .value"), what="the similarity")
        # a misspelt word: the suggestions, each one a link
        box.clear()
        box.send_keys("qeen", Keys.ENTER)
        wait(driver, lambda d: "queen" in texts(d, "#nb-message button"), what="the suggestions")
        assert "not in the vocabulary" in driver.find_element(By.ID, "nb-message").text
        driver.find_element(By.XPATH, "//div[@id='nb-message']//button[text()='queen']").click()
        wait(driver, lambda d: shown_word(d).startswith("queen"), what="the suggestion followed")
        # words that are markup show as text and run nothing
        driver.get(url + "#w=apple")
        wait(driver, lambda d: set(HOSTILE) <= set(texts(d, "#neighbours li button")), what="the hostile words")
        assert set(HOSTILE) <= set(texts(driver, "#map text"))
        driver.find_element(By.XPATH, "//ol[@id='neighbours']//button[contains(text(), '<img')]").click()
        wait(driver, lambda d: shown_word(d).startswith(HOSTILE[1]), what="the hostile word explored")
        assert driver.execute_script("return window.__pwned") is None
        assert driver.execute_script("return document.querySelectorAll('img').length") == 0
        assert driver.execute_script("return document.scripts.length") == 1
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "404" not in e["message"]]
        assert not severe, severe  # no script errors, no blocked (CSP) loads
