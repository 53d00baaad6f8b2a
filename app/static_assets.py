"""Static files served light: content-hashed names a browser keeps for a year, and compressed.

Pages link a static file through ``static_url("css/app.css")``, which names it by its content
(``/static/css/app.3f2a9c1b5d7e.css``): a changed file gets a new name, so the old one may be
cached as ``immutable``. The unhashed name still works and is revalidated on every use.

Only static files are compressed, never HTML pages: a page carries a CSRF token and echoes
input, and compressing both together leaks the token to an attacker who can measure sizes
(BREACH). A file with a pre-compressed copy beside it (``.br``/``.gz``, made at build time for
the large Plotly bundle) is sent as that copy; any other text file is compressed in memory on
first use, once per content.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import logging
import mimetypes
import os
import re
import stat
import threading
from pathlib import Path

# brotli is ~20 % smaller than gzip on our JavaScript; browsers that lack it get gzip
import brotli
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import STATIC_DIR

logger = logging.getLogger(__name__)

DIGEST_LENGTH = 12  # hex characters of the SHA-256 of the content
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # may be stored, but asked about (ETag) before each use
COMPRESSIBLE_SUFFIXES = frozenset({".css", ".js", ".json", ".svg", ".txt", ".map"})
# preferred first; the file suffix of a pre-compressed copy is the encoding's
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# build inputs of the Plotly bundle (with node_modules after a rebuild): never sent
NOT_SERVED = frozenset({"src"})
_HASHED_NAME = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[^./]+)$"
)


@dataclasses.dataclass(frozen=True)
class Asset:
    """One file of the static folder as it is now."""

    path: str  # relative to the static folder, with "/" separators: "css/app.css"
    file: Path
    digest: str
    size: int

    @property
    def hashed_path(self) -> str:
        stem, dot, suffix = self.path.rpartition(".")
        if not dot or "/" in suffix:
            return f"{self.path}.{self.digest}"
        return f"{stem}.{self.digest}.{suffix}"

    @property
    def compressible(self) -> bool:
        return self.file.suffix in COMPRESSIBLE_SUFFIXES


# brotli's best quality takes seconds per megabyte: a large file without a pre-compressed copy
# (one added by hand, not yet built) gets a quick setting rather than a stalled first request
BEST_QUALITY_UP_TO_BYTES = 512 * 1024


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        quality = 11 if len(data) <= BEST_QUALITY_UP_TO_BYTES else 5
        return bytes(brotli.compress(data, quality=quality))
    return gzip.compress(data, compresslevel=9, mtime=0)


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return bytes(brotli.decompress(data))
    return gzip.decompress(data)


class StaticAssets:
    """The static folder's files by content digest, and their compressed bodies.

    Digests are kept per (path, size, modification time), so an edited file in development
    gets a new name on the next page without a restart; compressed bodies per digest.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._lock = threading.Lock()
        self._digests: dict[tuple[str, int, int], str] = {}
        self._compressed: dict[tuple[str, str], bytes] = {}

    def asset(self, path: str) -> Asset | None:
        """The file at ``path`` (relative, "/" separators), or None if there is none inside."""
        file = (self.root / path).resolve()
        if not file.is_relative_to(self.root):
            return None
        try:
            status = file.stat()
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        key = (str(file), status.st_size, status.st_mtime_ns)
        digest = self._digests.get(key)
        if digest is None:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()[:DIGEST_LENGTH]
            with self._lock:
                self._digests[key] = digest
        return Asset(path=path, file=file, digest=digest, size=status.st_size)

    def url_path(self, path: str) -> str:
        """``path``'s content-hashed name; a missing file is an error in the template."""
        found = self.asset(path)
        if found is None:
            raise FileNotFoundError(f"no static file {path!r} in {self.root.name}/")
        return found.hashed_path

    def lookup(self, request_path: str) -> tuple[Asset, bool] | None:
        """The asset a request names, and whether the name carries its current digest."""
        named = _HASHED_NAME.match(request_path)
        if named is not None:
            found = self.asset(named["stem"] + named["suffix"])
            if found is not None:
                return found, found.digest == named["digest"]
        found = self.asset(request_path)
        return (found, False) if found is not None else None

    def compressed(self, asset: Asset, encoding: str) -> bytes:
        """``asset``'s body in ``encoding``: the pre-compressed copy beside it when that copy
        holds exactly this content, otherwise compressed here (and kept)."""
        key = (asset.digest, encoding)
        body = self._compressed.get(key)
        if body is not None:
            return body
        content = asset.file.read_bytes()
        if hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH] != asset.digest:
            # edited since it was looked up: answer with it, but keep nothing under the old digest
            return _compress(content, encoding)
        suffix = dict(ENCODINGS)[encoding]
        prepared = asset.file.with_name(asset.file.name + suffix)
        body = None
        if prepared.is_file():
            candidate = prepared.read_bytes()
            if _decompress(candidate, encoding) == content:
                body = candidate
            else:
                logger.warning(
                    "%s is stale (rebuild it): compressing %s here", prepared, asset.path
                )
        if body is None:
            body = _compress(content, encoding)
        with self._lock:
            self._compressed[key] = body
        return body


@functools.cache
def static_assets(root: Path = STATIC_DIR) -> StaticAssets:
    """The one registry per folder and process: pages and the static mount share digests."""
    return StaticAssets(root)


def _accepted(scope: Scope) -> tuple[str, ...]:
    """The encodings the client accepts (quality values above zero), lower-cased."""
    header = Headers(scope=scope).get("accept-encoding", "")
    accepted = []
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=")
        if quality and quality.replace(".", "", 1).isdigit() and float(quality) == 0:
            continue
        accepted.append(name.strip().lower())
    return tuple(accepted)


class StaticAssetFiles(StaticFiles):
    """The ``/static`` mount: hashed names, ``Cache-Control`` by name, compressed bodies."""

    def __init__(self, assets: StaticAssets) -> None:
        super().__init__(directory=assets.root)
        self.assets = assets

    async def get_response(self, path: str, scope: Scope) -> Response:
        request_path = path.replace(os.sep, "/")
        if request_path.split("/", 1)[0] in NOT_SERVED:
            raise HTTPException(status_code=404)
        found = None
        if scope["method"] in ("GET", "HEAD"):
            found = await run_in_threadpool(self.assets.lookup, request_path)
        if found is None:
            # 404, 405 and anything odd: as Starlette answers them
            return await super().get_response(path, scope)
        asset, current = found
        cache_control = IMMUTABLE if current else REVALIDATE
        encoding = self._encoding(asset, scope)
        if encoding is None:
            response = await super().get_response(asset.path.replace("/", os.sep), scope)
        else:
            response = await self._compressed_response(asset, encoding, scope)
        response.headers["cache-control"] = cache_control
        if asset.compressible:
            response.headers["vary"] = "Accept-Encoding"
        return response

    @staticmethod
    def _encoding(asset: Asset, scope: Scope) -> str | None:
        if not asset.compressible:
            return None
        accepted = _accepted(scope)
        return next((name for name, _ in ENCODINGS if name in accepted), None)

    async def _compressed_response(self, asset: Asset, encoding: str, scope: Scope) -> Response:
        try:
            body = await run_in_threadpool(self.assets.compressed, asset, encoding)
        except OSError as error:  # removed between lookup and read
            raise HTTPException(status_code=404) from error
        etag = f'"{asset.digest}-{encoding}"'
        media_type = mimetypes.guess_type(asset.file.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith(("javascript", "json")):
            media_type += "; charset=utf-8"
        headers = {
            "etag": etag,
            "content-encoding": encoding,
            "content-type": media_type,
            "content-length": str(len(body)),
        }
        requested = Headers(scope=scope).get("if-none-match", "")
        if etag in [tag.strip().removeprefix("W/") for tag in requested.split(",")]:
            del headers["content-length"]
            return Response(status_code=304, headers=headers)
        return Response(body if scope["method"] == "GET" else b"", headers=headers)
