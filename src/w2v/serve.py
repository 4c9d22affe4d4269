"""``w2v serve``: the explorer, a local web page over a model, and the JSON API behind it.

The HTTP side is Starlette (routing, requests, responses, the test client) served by uvicorn: both small,
well-kept and typed, installed by the optional extra ``pip install 'w2v[serve]'`` and imported only by
:func:`create_app` and :func:`run`, so that ``import w2v`` never needs them.  No HTTP is written by hand.

Every request is untrusted, even on the loopback address (any web page the user opens can make the browser
send requests here):

- **Host check** (DNS rebinding): a request whose ``Host`` header names anything but the address served,
  ``localhost``, ``127.0.0.1`` or ``[::1]`` at the port served is refused (400, ``bad_host``), so a page of
  another site that points its own name at 127.0.0.1 cannot read the answers.
- **Bounded input**: GET only; a query string of at most :data:`MAX_QUERY_BYTES`; each endpoint accepts
  only its own parameters, each once; words, counts and methods are checked by :mod:`w2v.explore`
  against its ``LIMITS``; at most :data:`MAX_BUSY` queries compute at once; a connection gets
  :data:`HEAD_SECONDS` to send each request's head.  The client never names a file:
  the model is the one given on the command line, and the page's three files are fixed at startup.
- **Escaped output**: answers are JSON; the page writes every word with ``textContent`` (never
  ``innerHTML``), and a Content-Security-Policy allows scripts, styles and requests from this server only.
- **Clear errors**: every 4xx (and 500) is JSON, ``{"error": code, "message": text}`` (see the README).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from .errors import ModelFileError, UnknownWordError, W2VError
from .explore import ExploreError, Explorer

SERVE_INSTALL_HINT = "pip install 'w2v[serve]'"
MAX_QUERY_BYTES = 4096   # the longest query string accepted (a word is at most 500 characters)
MAX_BUSY = 4             # queries computing at once; more wait their turn (each holds O(V) floats)
MAX_CONNECTIONS = 64     # uvicorn answers 503 beyond this many open connections
HEAD_SECONDS = 10.0      # a connection that has not sent a whole request head within this (of opening, or of
                         # its last answer) is closed: idle or crawling connections cannot hold all the slots
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    # only this server's scripts, styles and API; no frames, no forms elsewhere, no plug-ins
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

# endpoint -> (Explorer method, the parameters it takes, in order)
ENDPOINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "/api/info": ("info", ()),
    "/api/complete": ("complete", ("prefix", "limit")),
    "/api/neighbours": ("neighbours", ("word", "topn")),
    "/api/similarity": ("similarity", ("a", "b")),
    "/api/analogy": ("analogy", ("a", "b", "c", "topn", "method")),
    "/api/map": ("map", ("word", "n")),
}


class ServeError(W2VError, OSError):
    """The explorer cannot start: its extra is not installed, or the address cannot be listened on."""


def check_installed() -> None:
    """Raise :class:`ServeError` saying how to install the extra when Starlette or uvicorn is missing."""
    missing = []
    for name in ("starlette", "uvicorn"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ServeError(f"w2v serve needs {' and '.join(missing)}, not installed: {SERVE_INSTALL_HINT}")


def load_model(path: str, allow_nonfinite: bool = False):
    """The vectors of ``path`` (any file ``KeyedVectors.load`` reads); a native file is memory-mapped."""
    from . import formats
    from .vectors import KeyedVectors

    with formats.open_file(path) as f:
        native = formats.sniff(f.read(64)) == "native"
    kv = KeyedVectors.load(path, mmap=native, allow_nonfinite=allow_nonfinite)
    if not len(kv):
        raise ModelFileError(f"{path}: holds no vectors; nothing to explore")
    return kv


def allowed_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values this server answers: its address and the loopback names, at ``port``."""
    names = set(LOOPBACK_NAMES)
    host = host.strip().lower()
    names.add(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    values = {f"{name}:{port}" for name in names}
    if port == 80:  # a browser leaves the default port out
        values |= names
    return values


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _static(name: str) -> bytes:
    return resources.files("w2v").joinpath("static", name).read_bytes()


def create_app(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000) -> Any:
    """The Starlette application: the page, its two static files and the JSON API over ``explorer``.

    ``host`` and ``port`` are those served: the Host check accepts them and the loopback names only.
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    hosts = allowed_hosts(host, port)
    files = {name: _static(name) for name in ("index.html", *STATIC_FILES)}  # read once: no client paths
    busy = threading.BoundedSemaphore(MAX_BUSY)

    def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error": code, "message": message, **extra}, status_code=status)

    def api(path: str, method: str, params: tuple[str, ...]) -> Route:
        query: Callable[..., dict] = getattr(explorer, method)

        def endpoint(request: Request) -> Response:  # a plain def: Starlette runs it in a worker thread
            given = request.query_params
            unknown = sorted(set(given) - set(params))
            if unknown:
                takes = ", ".join(params) or "no parameters"
                return error(400, "bad_request", f"unknown parameter {unknown[0][:40]!r}; {path} takes {takes}")
            for name in params:
                if len(given.getlist(name)) > 1:
                    return error(400, "bad_request", f"give {name!r} once")
            try:
                with busy:
                    return JSONResponse(query(*(given.get(name) for name in params)))
            except UnknownWordError as err:
                return error(404, "unknown_word", str(err), word=err.word, suggestions=err.suggestions)
            except ExploreError as err:
                return error(400, "bad_request", str(err))
        return Route(path, endpoint, methods=["GET"])

    def page(request: Request) -> Response:
        return Response(files["index.html"], media_type="text/html; charset=utf-8")

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return error(404, "not_found", "no such file")
        return Response(files[name], media_type=STATIC_FILES[name])

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 405:
            return error(405, "method_not_allowed", "only GET (and HEAD) requests are served")
        if status == 404:
            return error(404, "not_found", "no such page or endpoint; the API is under /api/ (see the README)")
        return error(status, "http_error", str(getattr(exc, "detail", "")))

    async def internal_error(request: Request, exc: Exception) -> Response:
        return error(500, "internal", "internal error; the server's log has the details")

    routes = [Route("/", page, methods=["GET"]), Route("/static/{name}", static, methods=["GET"])]
    routes += [api(path, method, params) for path, (method, params) in ENDPOINTS.items()]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: internal_error})
    app.router.redirect_slashes = False  # "/api/info/" is a 404, not a redirect
    return _Guard(app, hosts)


class _Guard:
    """ASGI middleware in front of the app: the Host check, the query-string bound, the security headers."""

    def __init__(self, app: Any, hosts: set[str]):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower()
                           not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        given = [v for k, v in scope.get("headers") or [] if k.lower() == b"host"]
        host = given[0].decode("latin-1").strip().lower() if len(given) == 1 else ""
        if host not in self.hosts:
            shown = "no Host header" if not given else "several Host headers" if len(given) > 1 else \
                f"Host {host[:80]!r}"
            await _reject(scope, receive, send_with_headers, 400, "bad_host",
                          f"{shown}: not served here; open the address 'w2v serve' printed (this "
                          "check stops other web sites from reading the model through DNS rebinding)")
        elif len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _reject(scope, receive, send_with_headers, 414, "too_long",
                          f"the query string is over {MAX_QUERY_BYTES} bytes")
        else:
            await self.app(scope, receive, send_with_headers)


async def _reject(scope: dict, receive: Any, send: Any, status: int, code: str, message: str) -> None:
    from starlette.responses import JSONResponse

    await JSONResponse({"error": code, "message": message}, status_code=status)(scope, receive, send)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port), or :class:`ServeError` saying why not."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port must be in [0, 65535]; got {port}")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        infos.sort(key=lambda info: info[0] != socket.AF_INET)  # "localhost": 127.0.0.1 before ::1
        family, kind, proto, _, address = infos[0]
        # proto IPPROTO_TCP, not 0: asyncio then sets TCP_NODELAY on each connection (without it, a response
        # written in two parts waits for the client's delayed ACK: 40 ms a request)
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ServeError(f"cannot listen on {host}: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        hint = "; is another server there? choose another --port" if e.errno == errno.EADDRINUSE else ""
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}{hint}") from None
    sock.set_inheritable(True)
    return sock


def url(host: str, port: int) -> str:
    """The address to open: ``http://host:port/`` (IPv6 in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def make_server(explorer: Explorer, sock: socket.socket, host: str) -> Any:
    """A uvicorn server for ``explorer`` on the listening ``sock`` (run with ``server.run(sockets=[sock])``)."""
    import uvicorn

    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(explorer, host, port), log_config=None, log_level="warning",
                            access_log=False, proxy_headers=False, server_header=False, lifespan="off",
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, http=_protocol())
    return uvicorn.Server(config)


def _protocol() -> type:
    """uvicorn's h11 protocol with a deadline on each request head (:data:`HEAD_SECONDS`).  uvicorn closes a
    connection idle after an answer (``timeout_keep_alive``) but waits forever for the first request, and for
    a head sent a byte at a time: 64 such connections took every slot (:data:`MAX_CONNECTIONS`), and every
    later request was answered 503."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadlineProtocol(H11Protocol):
        _head_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # (this may start a pipelined request already received)
            if self.cycle is None or self.cycle.response_complete:
                self._arm()  # nothing in flight: the next head has its deadline

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._overdue, self.cycle)

        def _overdue(self, answered: Any) -> None:
            idle = answered is None or answered.response_complete
            if idle and self.cycle is answered and not self.transport.is_closing():  # no new request came whole
                self.transport.close()

    return HeadDeadlineProtocol


def canonical_host(host: str) -> str:
    """An IPv4 address in a short form the resolver takes ("0", "127.1") in its dotted form (so that "0" is
    known for the wildcard it is); anything else as given."""
    if ":" not in host:
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            pass
    return host


def where(host: str, port: int) -> str:
    """The startup line's "at URL (who can reach it)": a wildcard address is shown as a loopback one that opens."""
    if _is_loopback(host):
        reach = "loopback only: this machine alone can open it"
    elif _is_unspecified(host):
        reach = ("listening on every interface, but answering only to the localhost names: give --host the "
                 "address other machines will type to serve them")
        host = "[::1]" if ":" in host else "127.0.0.1"
    else:
        reach = f"other machines can open it too: anyone who reaches {host} can query the model"
    return f"at {url(host, port)} ({reach}; Ctrl-C stops)"


def run(kv: Any, name: str, host: str = "127.0.0.1", port: int = 8000, out: Any = None) -> None:
    """Serve the explorer over ``kv`` until interrupted (Ctrl-C, SIGTERM), saying where at startup."""
    out = out or sys.stdout
    check_installed()
    host = canonical_host(host)
    sock = listen(host, port)
    try:
        explorer = Explorer(kv, os.path.basename(name))
        explorer.warm()
        print(f"w2v: serving {explorer.name} ({len(kv):,} words, {kv.vector_size} dims) "
              f"{where(host, sock.getsockname()[1])}", file=out, flush=True)
        make_server(explorer, sock, host).run(sockets=[sock])
    finally:
        sock.close()
