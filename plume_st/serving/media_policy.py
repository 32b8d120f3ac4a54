"""Where the media of a request may come from, and reading them under a byte cap and one deadline.

Named as vLLM names it. Inline ``data:`` URIs are always accepted. A local file is read only under
``allowed_local_media_path`` (the path resolved first, so symlinks and ``..`` cannot leave the folder); an
``http(s)`` URL is fetched only from a host in ``allowed_media_domains``, every redirect checked again, with a byte
cap and one deadline for the whole fetch (not per read). Errors say "not allowed" or "could not fetch / read" and
never whether a file exists or a port is open.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from plume_st.modules.errors import PlumeInputError

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class MediaPolicy:
    """Where media may come from.

    Args:
        allowed_local_media_path: Folder whose files may be read (``None``: no local file).
        allowed_media_domains: Hosts whose ``http(s)`` URLs may be fetched (empty: no URL).
        max_media_bytes: Most bytes of one medium (a decoded data URI, a file, a download).
        fetch_timeout_s: Deadline for all the fetches of one request together.
    """

    allowed_local_media_path: str | None = None
    allowed_media_domains: tuple[str, ...] = ()
    max_media_bytes: int = 32 * 1024 * 1024
    fetch_timeout_s: float = 10.0


def read_media(source: object, kind: str, policy: MediaPolicy, deadline: float) -> bytes:
    """The bytes of one image or video given as a ``data:`` URI, a URL or a local path.

    Args:
        source: What the request gave (a string, else refused).
        kind: ``"image"`` or ``"video"`` (the data URI's type must match).
        policy: Where media may come from.
        deadline: ``time.monotonic()`` value by which every fetch of the request must be done.

    Raises:
        PlumeInputError: Refused by the policy, over the byte cap, or unreadable (a short, uniform problem).
    """
    if not isinstance(source, str):
        raise PlumeInputError(f"{_article(kind)} must be a data: URI, a URL or a file path (a string)")
    scheme = source.split(":", 1)[0].lower() if ":" in source[:10] else ""
    if scheme == "data":
        return _decode_data_uri(source, kind, policy.max_media_bytes)
    if scheme in ("http", "https"):
        return _fetch(source, kind, policy, deadline)
    if scheme in ("", "file"):
        return _read_local(unquote(source[7:]) if scheme == "file" else source, kind, policy)
    raise PlumeInputError(f"unsupported {kind} URL scheme; use a data: URI, an http(s) URL or a file path")


def _article(kind: str) -> str:
    return f"an {kind}" if kind == "image" else f"a {kind}"


def _decode_data_uri(uri: str, kind: str, max_bytes: int) -> bytes:
    header, _, payload = uri.partition(",")
    if not header.lower().startswith(f"data:{kind}/") or not header.endswith(";base64"):
        raise PlumeInputError(f"{_article(kind)} data URI must be data:{kind}/<type>;base64,<data>")
    if len(payload) * 3 // 4 > max_bytes:
        raise PlumeInputError(f"the {kind} data URI is over the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise PlumeInputError(f"the {kind} data URI is not valid base64") from error


def _read_local(path: str, kind: str, policy: MediaPolicy) -> bytes:
    if policy.allowed_local_media_path is None:
        raise PlumeInputError(
            f"local {kind} files are not allowed on this server (it must be started with --allowed-local-media-path)"
        )
    if "\x00" in path:
        raise PlumeInputError(f"could not read the local {kind} file")
    root = os.path.realpath(policy.allowed_local_media_path)
    resolved = os.path.realpath(os.path.join(root, path))  # an absolute path replaces root
    if os.path.commonpath([root, resolved]) != root:
        raise PlumeInputError(f"this {kind} path is not allowed (outside --allowed-local-media-path)")
    try:
        with open(resolved, "rb") as file:
            data = file.read(policy.max_media_bytes + 1)
    except OSError as error:
        raise PlumeInputError(f"could not read the local {kind} file") from error
    if len(data) > policy.max_media_bytes:
        raise PlumeInputError(f"the local {kind} file is over the limit of {policy.max_media_bytes} bytes")
    return data


def _check_host(url: str, kind: str, policy: MediaPolicy) -> None:
    if not policy.allowed_media_domains:
        raise PlumeInputError(
            f"{kind} URLs are not allowed on this server (it must be started with --allowed-media-domains)"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in policy.allowed_media_domains:
        raise PlumeInputError(f"this {kind} URL's domain is not allowed (not in --allowed-media-domains)")


def _could_not_fetch(kind: str) -> PlumeInputError:
    return PlumeInputError(f"could not fetch the {kind} URL")


def _fetch(url: str, kind: str, policy: MediaPolicy, deadline: float) -> bytes:
    import httpx

    _check_host(url, kind, policy)
    cap = policy.max_media_bytes
    timeout = httpx.Timeout(max(policy.fetch_timeout_s / 4, 0.1))  # each read; the deadline bounds the whole
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if time.monotonic() > deadline:
                    raise _could_not_fetch(kind)
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        _check_host(url, kind, policy)
                        continue
                    if response.status_code != 200:
                        raise _could_not_fetch(kind)
                    if int(response.headers.get("content-length") or 0) > cap:
                        raise PlumeInputError(f"the {kind} at this URL is over the limit of {cap} bytes")
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > cap:
                            raise PlumeInputError(f"the {kind} at this URL is over the limit of {cap} bytes")
                        if time.monotonic() > deadline:
                            raise _could_not_fetch(kind)
                        chunks.append(chunk)
                    return b"".join(chunks)
    except (httpx.HTTPError, OSError, ValueError) as error:
        if isinstance(error, PlumeInputError):
            raise
        raise _could_not_fetch(kind) from error
    raise _could_not_fetch(kind)  # too many redirects
