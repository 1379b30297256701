"""Fetching pages and feeds over HTTP without becoming a way into the server's own network.

A link sent to the bot is chosen by someone else, so every request is checked: only http and
https; the host's addresses are resolved and each must be public (no loopback, private,
link-local, cloud-metadata, shared or reserved address) unless ``allow_private`` is set
(``KHABAR_FETCH_ALLOW_PRIVATE=1``), and the connection is made to the very address that was
checked, so a name that resolves differently a moment later (DNS rebinding) reaches nothing
else. Redirects are followed by hand, each hop checked the same way, and bounded. Bodies are
read as a stream and cut off past the size cap; the content type must be one the caller
accepts. Answers 429 and 5xx are retried with exponential backoff (``Retry-After`` honoured up
to a cap), and requests to one site go one at a time, whichever thread makes them.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.message import Message

import httpx

from khabar.retrieval.config import DEFAULTS
from khabar.retrieval.errors import KhabarError

log = logging.getLogger(__name__)

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/pdf"})
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/xml", "text/xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED = frozenset({429, 500, 502, 503, 504})
# Servers that do not say what they send, or say "octet-stream": the first bytes decide.
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_SNIFF = ((b"%pdf-", "application/pdf"), (b"<!doctype html", "text/html"),
          (b"<html", "text/html"), (b"<?xml", "application/xml"), (b"<rss", "application/xml"),
          (b"<feed", "application/xml"))
_MAX_RETRY_AFTER = 30.0
_USER_AGENT = "Mozilla/5.0 (compatible; Khabar/0.1; news question answering)"


class FetchError(KhabarError):
    """A page or feed could not be fetched; the message says why, in a few words."""


class UnsafeAddressError(FetchError):
    """The URL leads to an address Khabar does not fetch from (loopback, private, ...)."""


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """Limits of one fetch; the settings ``KHABAR_FETCH_TIMEOUT``, ``KHABAR_MAX_PAGE_BYTES`` and
    ``KHABAR_FETCH_ALLOW_PRIVATE`` set the first three."""

    timeout: float = DEFAULTS.fetch_timeout  # for connecting, each read, and the whole body
    max_bytes: int = DEFAULTS.max_page_bytes
    allow_private: bool = DEFAULTS.fetch_allow_private
    max_redirects: int = 5
    retries: int = 2  # further attempts after a 429 or 5xx answer
    backoff: float = 1.0  # seconds before the first retry, doubled for each next one


@dataclass(frozen=True, slots=True)
class Fetched:
    """An answer: 200 with its body, or 304 (not modified since the ETag/date sent)."""

    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    data: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``ip`` unfit to fetch from (e.g. "loopback"), or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives there)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved or shared"
    return None


class Fetcher:
    """One HTTP client for a process's fetches; safe to share between threads."""

    def __init__(self, options: FetchOptions | None = None) -> None:
        self.options = options or FetchOptions()
        t = self.options.timeout
        # The environment's proxies are not used: a proxy would connect to an address we
        # never checked. Connections are not kept: each is pinned to one checked address and
        # one TLS name, and must not serve another host.
        self._client = httpx.Client(
            timeout=httpx.Timeout(t, pool=t), follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": _USER_AGENT},
        )
        self._sites: dict[str, threading.Lock] = {}
        self._sites_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, accept: Collection[str], *, etag: str | None = None,
            modified: str | None = None) -> Fetched:
        """Fetch ``url`` (following checked redirects); raises ``FetchError`` with the reason.

        ``accept`` lists the media types the caller can use; ``etag``/``modified`` make the
        request conditional, and a 304 comes back as ``Fetched.not_modified``.
        """
        current = _parse(url)
        headers = {"Accept": ", ".join(sorted(accept)) + ", */*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        for _ in range(self.options.max_redirects + 1):
            with self._one_at_a_time(current.host):
                result = self._attempts(current, headers, accept)
            if isinstance(result, Fetched):
                return replace(result, url=url, final_url=str(current))
            current = _parse(str(current.join(result)))
        raise FetchError(f"too many redirects (more than {self.options.max_redirects})")

    @contextmanager
    def _one_at_a_time(self, host: str) -> Iterator[None]:
        with self._sites_lock:
            lock = self._sites.setdefault(host.lower(), threading.Lock())
        with lock:
            yield

    def _attempts(self, url: httpx.URL, headers: dict[str, str],
                  accept: Collection[str]) -> Fetched | str:
        """One request, retried on 429/5xx; a redirect comes back as its Location."""
        for attempt in range(self.options.retries + 1):
            try:
                return self._request(url, headers, accept)
            except _Retry as retry:
                if attempt == self.options.retries:
                    raise FetchError(f"HTTP {retry.status} after {attempt + 1} attempts"
                                     ) from None
                wait = retry.after if retry.after is not None else (
                    self.options.backoff * 2 ** attempt)
                if wait > _MAX_RETRY_AFTER:
                    raise FetchError(f"HTTP {retry.status}: the site asks to wait "
                                     f"{wait:.0f} s") from None
                log.info("fetch_retry", extra={"url": str(url), "status": retry.status,
                                               "wait_s": round(wait, 2)})
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _request(self, url: httpx.URL, headers: dict[str, str],
                 accept: Collection[str]) -> Fetched | str:
        address = self._address(url)
        pinned = url.copy_with(host=address)
        # The connection goes to the checked address; the server still sees its own name
        # (Host header, and TLS SNI and certificate checks against it), IDNA-encoded.
        name = url.raw_host.decode("ascii")
        extensions = {"sni_hostname": name} if url.scheme == "https" else {}
        host = f"[{name}]" if ":" in name else name
        host += f":{url.port}" if url.port else ""
        deadline = time.monotonic() + self.options.timeout
        try:
            with self._client.stream("GET", pinned, headers={**headers, "Host": host},
                                     extensions=extensions) as response:
                status = response.status_code
                if status in _REDIRECTS and response.headers.get("location"):
                    return response.headers["location"]
                if status in _RETRIED:
                    raise _Retry(status, _retry_after(response.headers.get("retry-after")))
                if status == 304:
                    return _fetched(url, response, b"", "")
                if status >= 400:
                    raise FetchError(f"HTTP {status} {response.reason_phrase}".strip())
                if status != 200:
                    raise FetchError(f"unexpected HTTP {status}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.options.max_bytes:
                    raise FetchError(self._too_large())
                data = self._body(response, deadline)
                kind = _media_type(response.headers.get("content-type", ""))
                if kind in _UNDECLARED:
                    kind = _sniff(data) or kind
                if kind not in accept:
                    wanted = ", ".join(sorted(accept))
                    raise FetchError(f"unexpected content type {kind or 'none'} "
                                     f"(expected {wanted})")
                return _fetched(url, response, data, kind)
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {self.options.timeout:g} s "
                             "(KHABAR_FETCH_TIMEOUT)") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch: {type(exc).__name__}: {str(exc)[:120]}") from None

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.options.max_bytes:
                raise FetchError(self._too_large())
            if time.monotonic() > deadline:
                raise FetchError(f"the body took more than {self.options.timeout:g} s "
                                 "(KHABAR_FETCH_TIMEOUT)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> str:
        return f"larger than the {self.options.max_bytes:,}-byte limit (KHABAR_MAX_PAGE_BYTES)"

    def _address(self, url: httpx.URL) -> str:
        """The address to connect to: every address the host resolves to must be fit."""
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"cannot resolve the host {url.host} ({exc})") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not addresses:
            raise FetchError(f"the host {url.host} has no address")
        if not self.options.allow_private:
            for address in addresses:
                kind = address_kind(ipaddress.ip_address(address.split("%")[0]))
                if kind:
                    named = url.host if url.host == address else f"{url.host} ({address})"
                    raise UnsafeAddressError(
                        f"refused: {named} is a {kind} address; Khabar fetches only from "
                        "public addresses (KHABAR_FETCH_ALLOW_PRIVATE=1 lifts this)")
        return addresses[0]


class _Retry(Exception):
    def __init__(self, status: int, after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.after = after


def _parse(url: str) -> httpx.URL:
    """A URL Khabar may fetch: http or https with a host (credentials in it are refused)."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"only http and https links can be fetched, not "
                         f"{parsed.scheme or 'a bare path'}")
    if not parsed.host:
        raise FetchError("the URL has no host")
    if parsed.userinfo:
        raise FetchError("URLs with a user name or password are not fetched")
    return parsed.copy_with(fragment=None)


def _fetched(url: httpx.URL, response: httpx.Response, data: bytes, kind: str) -> Fetched:
    return Fetched(str(url), str(url), response.status_code, kind,
                   _charset(response.headers.get("content-type", "")), data,
                   response.headers.get("etag"), response.headers.get("last-modified"))


def _media_type(header: str) -> str:
    return header.split(";")[0].strip().lower()


def _charset(header: str) -> str | None:
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return charset.strip().lower() if isinstance(charset, str) and charset.strip() else None


def _sniff(data: bytes) -> str | None:
    head = data[:512].lstrip().lower()
    return next((kind for magic, kind in _SNIFF if head.startswith(magic)), None)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare for 429s and read as absent)."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
