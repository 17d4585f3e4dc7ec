"""Fetching a URL (conditional GET, byte cap, redirects) and loading what it serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from assistant.knowledge.loaders.base import (
    MAX_FILE_BYTES,
    Fetched,
    Loaded,
    LoadError,
    media_type,
    short,
    too_large,
)
from assistant.knowledge.loaders.dispatch import load_bytes

_USER_AGENT = "ELMO-assistant/0.1 (+document refresh)"


def _url_name(url: str) -> str:
    path = unquote(urlsplit(url).path or "")
    return PurePosixPath(path).name or "index"


def fetch_url(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
    max_bytes: int = MAX_FILE_BYTES,
    parse: Callable[..., Loaded] = load_bytes,
) -> Fetched:
    """GET ``url`` (conditional when ``etag``/``last_modified`` are given) and load it.

    Returns ``Fetched(not_modified=True, loaded=None)`` on HTTP 304.  The returned
    ``Loaded.kind`` is ``"url"``; ``Loaded.content_type`` is the served media type.
    ``parse(data, name=, content_type=)`` turns the body into text (``parse_bytes`` isolates it).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise LoadError(f"unsupported URL scheme {scheme or '(none)'}")
    headers = {"User-Agent": _USER_AGENT, "Accept": "text/html,application/pdf,text/plain,*/*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with (
            httpx.Client(follow_redirects=True, timeout=timeout, max_redirects=10) as client,
            client.stream("GET", url, headers=headers) as resp,
        ):
            new_etag = resp.headers.get("etag") or None
            new_lm = resp.headers.get("last-modified") or None
            if resp.status_code == 304:
                return Fetched(
                    loaded=None,
                    etag=new_etag or etag,
                    last_modified=new_lm or last_modified,
                    not_modified=True,
                )
            if not 200 <= resp.status_code < 300:
                raise LoadError(f"HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise too_large(int(declared), max_bytes)
            buf = bytearray()
            for chunk in resp.iter_bytes():
                buf.extend(chunk)
                if len(buf) > max_bytes:
                    raise too_large(len(buf), max_bytes)
            content_type = resp.headers.get("content-type")
            final_url = str(resp.url)
    except httpx.TooManyRedirects as e:
        raise LoadError("too many redirects") from e
    except httpx.TimeoutException as e:
        raise LoadError(f"unreachable: timed out after {timeout:g} s") from e
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
        raise LoadError(f"invalid URL: {short(e)}") from e
    except httpx.HTTPError as e:
        raise LoadError(f"unreachable: {short(e)}") from e
    except LoadError:
        raise
    except (OSError, ValueError) as e:  # e.g. malformed URL parts rejected by the stack
        raise LoadError(f"unreachable: {short(e)}") from e

    loaded = parse(bytes(buf), name=_url_name(final_url), content_type=content_type)
    loaded.kind = "url"
    loaded.content_type = media_type(content_type) or loaded.content_type
    return Fetched(loaded=loaded, etag=new_etag, last_modified=new_lm, not_modified=False)
