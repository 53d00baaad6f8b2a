"""The one locked-down WeasyPrint entry point, run in a persistent pool of limited workers.

Safety (ENGINEERING.md, "WeasyPrint: safe and fast"):
- HTML comes only from our Jinja templates with autoescape; it is passed as a string.
- ``SafeURLFetcher`` serves ``data:`` URLs and files inside the app's static folder (checked
  by resolved path, so ``..`` and symlinks cannot leave it); every other URL — http(s), ftp,
  ``file://`` elsewhere — is refused without a request, and redirects are never followed.
- ``presentational_hints`` stays off; no URL is ever passed as a stylesheet, attachment or
  metadata; fonts are the app's own, loaded by ``@font-face`` through the same fetcher.
- The reports' own stylesheet (static/css/report.css) is not in the HTML: each process parses
  it once, from the file's text, with its fonts loaded once (``_report_style``), and adds it
  to every render; the templates' HTML carries none.
- Renders run in worker processes with an address-space limit (``RLIMIT_AS``), a per-render
  time limit (a timer signal inside the worker, and a hard deadline in the parent that
  replaces the pool if a worker stops answering), and recycling after N renders. A
  pathological document therefore ends with ``RenderLimitError`` while the web worker, and
  the pool, keep serving.

Speed: workers are forked from a server process that has WeasyPrint imported, and each worker
renders a small document at start, so the first real render in it is warm. PDFs are cached by
a hash of everything that affects them (``PdfCache``).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import functools
import hashlib
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

import weasyprint
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.config import STATIC_DIR, Settings
from app.errors import DomainError

logger = logging.getLogger(__name__)

# Relative URLs in report HTML (fonts in the stylesheet) resolve from here.
BASE_DIR = STATIC_DIR / "css"
STYLESHEET = BASE_DIR / "report.css"
PDF_VARIANT = "pdf/ua-1"  # tagged PDF with title and language; "not guaranteed" by WeasyPrint

_SETTINGS = Settings.model_fields


def _default(name: str) -> Any:
    """The default of a render setting: one place (app.config) for the service and the CLI."""
    return _SETTINGS[name].default


MAX_HTML_CHARS: int = _default("render_max_html_chars")


class ReportRenderError(DomainError):
    """A PDF could not be made; the message says what to do next."""

    status_code = 503
    title = "The report could not be made"
    default_message = (
        "The report could not be made just now. Please try again in a minute; if it keeps "
        "happening, tell your administrator."
    )


class RenderLimitError(ReportRenderError):
    """The render was stopped by the time or memory limit."""

    status_code = 422
    title = "The report is too large to make"


# Raised inside workers; plain exceptions with a message so they pickle across processes.
class _RenderTimeout(Exception):
    pass


class _TimerFired(BaseException):
    """Raised by the timer signal: a BaseException, so no ``except Exception`` inside
    WeasyPrint can swallow it."""


class _RenderMemory(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """The pool's limits; defaults and descriptions live in ``Settings`` (PROCESSLENS_RENDER_*)."""

    seconds: float = _default("render_seconds")  # per render
    memory_mb: int = _default("render_memory_mb")  # address space of a worker process
    workers: int = _default("render_workers")
    renders_per_worker: int = _default("render_renders_per_worker")  # then it is replaced
    max_html_chars: int = MAX_HTML_CHARS
    grace_seconds: float = 10.0  # past seconds + grace the parent replaces the whole pool

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RenderLimits:
        values: dict[str, Any] = {
            "seconds": settings.render_seconds,
            "memory_mb": settings.render_memory_mb,
            "workers": settings.render_workers,
            "renders_per_worker": settings.render_renders_per_worker,
            "max_html_chars": settings.render_max_html_chars,
        }
        return cls(**(values | overrides))


# ---------------------------------------------------------------- the fetcher


class SafeURLFetcher(URLFetcher):  # type: ignore[misc]
    """Serves only ``data:`` URLs and files under the static folder; refuses everything else.

    ``blocked`` lists refused URLs (for logs and tests). Refusals are not fatal: WeasyPrint
    leaves the resource out and goes on, so text that slipped through can never fetch.
    """

    def __init__(self, root: Path = STATIC_DIR) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
        self.root = root.resolve()
        self.blocked: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            response: URLFetcherResponse = super().fetch(url, headers)
            return response
        if scheme == "file":
            parts = urlsplit(url)
            if parts.netloc in ("", "localhost"):
                path = Path(unquote(parts.path)).resolve()
                if path.is_relative_to(self.root) and path.is_file():
                    return URLFetcherResponse(url, path.read_bytes(), status=200)
        self.blocked.append(url)
        logger.warning("report renderer refused a URL (%s)", scheme)
        raise ValueError("URL refused by the report renderer")


# ---------------------------------------------------------------- rendering (in a worker)


def html_to_pdf(
    html: str, *, fetcher: SafeURLFetcher | None = None, max_chars: int = MAX_HTML_CHARS
) -> bytes:
    """Render report HTML to PDF in this process. The only call of WeasyPrint in the app.

    Call it through ``RenderPool`` from anything serving requests; it is public for the
    worker, the benchmark's floor measurement and tests.
    """
    if len(html) > max_chars:
        raise _RenderMemory("the document is larger than the report renderer accepts")
    stylesheet, fonts = _report_style()
    document = weasyprint.HTML(
        string=html,
        base_url=BASE_DIR.as_uri() + "/",
        url_fetcher=fetcher or SafeURLFetcher(),
    )
    pdf: bytes = document.write_pdf(
        stylesheets=[stylesheet],
        font_config=fonts,
        pdf_variant=PDF_VARIANT,
        presentational_hints=False,
        cache=_IMAGE_CACHE,
        optimize_images=False,
    )
    return pdf


@functools.cache
def _report_style() -> tuple[weasyprint.CSS, FontConfiguration]:
    """The reports' stylesheet, parsed once per process with its ``@font-face`` fonts loaded
    (through the safe fetcher) into a font configuration every render then shares: parsing it
    and loading the fonts for each document was a fixed cost of every report."""
    fonts = FontConfiguration()
    stylesheet = weasyprint.CSS(
        string=STYLESHEET.read_text(encoding="utf-8"),
        base_url=BASE_DIR.as_uri() + "/",
        url_fetcher=SafeURLFetcher(),
        font_config=fonts,
    )
    return stylesheet, fonts


# shared between renders in one worker: the logo and fonts are decoded once
_IMAGE_CACHE: dict[str, Any] = {}
_WARM_UP_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>warm-up</title>'
    '<style>@font-face{font-family:"IBM Plex Sans";src:url(../fonts/IBMPlexSans-Regular.ttf)}'
    'body{font-family:"IBM Plex Sans"}</style></head><body><p>ProcessLens</p></body></html>'
)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _TimerFired


def _init_worker(memory_bytes: int) -> None:
    """Runs once in each new worker: limits, then a small render so the first real one is warm."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGALRM, _on_alarm)
    # a worker never handles Ctrl+C itself; the parent shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        html_to_pdf(_WARM_UP_HTML)


def _render_in_worker(html: str, seconds: float, max_chars: int = MAX_HTML_CHARS) -> bytes:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return html_to_pdf(html, max_chars=max_chars)
    except _TimerFired:
        raise _RenderTimeout("time limit") from None
    except MemoryError:
        raise _RenderMemory("memory limit") from None
    except RecursionError:
        raise _RenderMemory("nesting limit") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# ---------------------------------------------------------------- the pool (in the parent)


class RenderPool:
    """A persistent, size-limited pool of render workers with per-render limits."""

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.limits = limits or RenderLimits()
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                # the fork server imports WeasyPrint once; every worker forks from it warm
                context.set_forkserver_preload(["app.reports.pdf"])
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.limits.workers,
                    mp_context=context,
                    initializer=_init_worker,
                    initargs=(self.limits.memory_mb * 1024 * 1024,),
                    max_tasks_per_child=self.limits.renders_per_worker,
                )
            return self._executor

    def _replace(self, executor: concurrent.futures.ProcessPoolExecutor) -> None:
        """Kill a pool whose worker stopped answering; the next render starts a new one."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        processes = list(getattr(executor, "_processes", {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def warm_up(self) -> None:
        """Start the workers now (they render a small document each as they start)."""
        executor = self._pool()
        futures = [
            executor.submit(_render_in_worker, _WARM_UP_HTML, self.limits.seconds)
            for _ in range(self.limits.workers)
        ]
        concurrent.futures.wait(futures)

    def submit(self, html: str) -> concurrent.futures.Future[bytes]:
        return self._pool().submit(
            _render_in_worker, html, self.limits.seconds, self.limits.max_html_chars
        )

    def result(self, future: concurrent.futures.Future[bytes], *, started: float) -> bytes:
        """Wait for a submitted render and translate its failure into a domain error."""
        executor = self._executor
        deadline = self.limits.seconds + self.limits.grace_seconds
        try:
            return future.result(timeout=max(0.1, deadline - (time.monotonic() - started)))
        except concurrent.futures.TimeoutError:
            if executor is not None:
                self._replace(executor)
            raise RenderLimitError(self._limit_message("time")) from None
        except (_RenderTimeout, _TimerFired):
            raise RenderLimitError(self._limit_message("time")) from None
        except (_RenderMemory, MemoryError):
            raise RenderLimitError(self._limit_message("memory")) from None
        except BrokenProcessPool:
            # a worker died (e.g. the memory limit hit inside C code): start a fresh pool
            if executor is not None:
                self._replace(executor)
            raise RenderLimitError(self._limit_message("memory")) from None

    def render(self, html: str) -> bytes:
        """Render one document in a worker; raises RenderLimitError or ReportRenderError."""
        started = time.monotonic()
        try:
            future = self.submit(html)
        except BrokenProcessPool:
            executor = self._executor
            if executor is not None:
                self._replace(executor)
            future = self.submit(html)
        return self.result(future, started=started)

    def render_many(
        self,
        documents: Sequence[Callable[[], str]],
        *,
        on_done: Callable[[int, bytes | ReportRenderError], None],
    ) -> None:
        """Render several documents, at most ``workers`` at a time, calling ``on_done(index,
        pdf or error)`` as each finishes. HTML is built lazily, just before it is sent."""
        pending: dict[concurrent.futures.Future[bytes], tuple[int, float]] = {}
        queue = list(enumerate(documents))
        queue.reverse()

        def fill() -> None:
            while queue and len(pending) < self.limits.workers * 2:
                index, make_html = queue.pop()
                pending[self.submit(make_html())] = (index, time.monotonic())

        fill()
        while pending:
            done, _ = concurrent.futures.wait(
                pending, timeout=1.0, return_when=concurrent.futures.FIRST_COMPLETED
            )
            overdue = [
                f
                for f, (_, started) in pending.items()
                if time.monotonic() - started > self.limits.seconds + self.limits.grace_seconds
            ]
            for future in list(done) + [f for f in overdue if f not in done]:
                index, started = pending.pop(future)
                try:
                    on_done(index, self.result(future, started=started))
                except ReportRenderError as error:
                    on_done(index, error)
            fill()

    def _limit_message(self, which: str) -> str:
        limit = (
            f"{self.limits.seconds:g} seconds"
            if which == "time"
            else f"{self.limits.memory_mb} MB of memory"
        )
        return (
            f"Making this report was stopped because it needed more than {limit}. Shorten "
            "what goes into it (for example very long commentary or notes) and try again."
        )

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_POOL: RenderPool | None = None
_POOL_LIMITS: RenderLimits | None = None
_POOL_LOCK = threading.Lock()


def configure_pool(limits: RenderLimits) -> None:
    """Set the limits of the process-wide pool (``create_app`` passes the settings' limits).

    A pool already running with other limits is shut down; the next render starts a new one.
    """
    global _POOL, _POOL_LIMITS
    with _POOL_LOCK:
        _POOL_LIMITS = limits
        old = _POOL
        if old is None or old.limits == limits:
            return
        _POOL = None
    old.close()


def close_pool() -> None:
    """Stop the process-wide pool's workers now (the app's shutdown): uvicorn ends on SIGTERM
    by re-raising the signal, so atexit handlers never run and the workers would outlive it.
    A later render starts a new pool."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()


def get_pool(limits: RenderLimits | None = None) -> RenderPool:
    """The process-wide pool (created on first use with the configured limits, shut down
    at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = RenderPool(limits or _POOL_LIMITS)
            atexit.register(_POOL.close)
        return _POOL


# ---------------------------------------------------------------- the cache


class PdfCache:
    """Finished PDFs on disk, by a key that hashes everything that affects them.

    Writes are atomic (temporary file, then rename), so concurrent workers never read half a
    file; beyond ``max_files`` the least recently used files are removed.
    """

    def __init__(self, directory: Path, *, max_files: int = 500) -> None:
        self.directory = directory
        self.max_files = max_files

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pdf"

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def put(self, key: str, pdf: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        temporary.write_bytes(pdf)
        os.replace(temporary, self._path(key))
        self._trim()

    def _trim(self) -> None:
        files = sorted(self.directory.glob("*.pdf"), key=lambda p: p.stat().st_mtime)
        for path in files[: max(0, len(files) - self.max_files)]:
            with contextlib.suppress(OSError):
                path.unlink()


def cache_key(*parts: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"weasyprint {weasyprint.__version__} {PDF_VARIANT}".encode())
    for part in parts:
        digest.update(b"\0")
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()
