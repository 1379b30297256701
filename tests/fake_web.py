"""A small web server on 127.0.0.1 for the fetch, feed and intake tests, and a PDF builder.

Routes answer with a page, a redirect, a status sequence (503 then 200), a body streamed
without a length, or a stall that outlasts the client's timeout (released when the server
stops, so no thread outlives a test). Every request is recorded, with the number of requests
in flight at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    statuses: list[int] = field(default_factory=lambda: [200])  # the last one repeats
    location: str | None = None
    etag: str | None = None
    stream_chunks: int = 0  # > 0: the body is sent this many times, with no length
    stall: bool = False
    hold: float = 0.0  # seconds to hold the answer (to let requests overlap)


class FakeWeb:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWeb:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes | str = b"", **kw) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, **kw)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = Route(statuses=[302], location=to)
        return self.url(path)


def _handler(web: FakeWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection, closed after it

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = unquote(self.path)
            with web._lock:
                web.hits[path] += 1
                web.headers.append((path, dict(self.headers.items())))
                web.in_flight += 1
                web.max_in_flight = max(web.max_in_flight, web.in_flight)
                hit = web.hits[path]
            try:
                self._answer(web.routes.get(path), hit)
            finally:
                with web._lock:
                    web.in_flight -= 1

        def _answer(self, route: Route | None, hit: int) -> None:
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            if route.stall:
                web._stop.wait(30)
                return
            if route.hold:
                web._stop.wait(route.hold)
            status = route.statuses[min(hit, len(route.statuses)) - 1]
            if route.location:
                self.send_response(status)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            if route.stream_chunks:
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.end_headers()
                try:
                    for _ in range(route.stream_chunks):
                        self.wfile.write(route.body)
                except OSError:
                    pass  # the client hung up at its size cap, as it should
                return
            extra = {"ETag": route.etag} if route.etag else {}
            self._send(status, route.body, route.content_type, extra)

        def _send(self, status: int, body: bytes, content_type: str,
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may hang up at its size cap
                self.wfile.write(body)

    return Handler


def rss(items: list[tuple[str, str, str]], title: str = "Wire") -> str:
    """An RSS 2.0 feed of (guid, link, title) items."""
    entries = "".join(f"<item><guid>{guid}</guid><link>{link}</link><title>{t}</title></item>"
                      for guid, link, t in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>http://127.0.0.1/</link>{entries}</channel></rss>")


def atom(items: list[tuple[str, str, str]], title: str = "Agency") -> str:
    """An Atom feed of (id, link, title) entries."""
    entries = "".join(f'<entry><id>{i}</id><link href="{link}"/><title>{t}</title>'
                      "<updated>2024-06-01T10:00:00Z</updated></entry>"
                      for i, link, t in items)
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{title}</title><id>urn:x</id><updated>2024-06-01T10:00:00Z</updated>"
            f"{entries}</feed>")


def build_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF whose pages hold these lines as a text layer (an empty page has none, like a
    scan). Glyphs come from a font whose ToUnicode map gives each code its character, which
    is all a text extractor reads; a right-to-left line is drawn in visual order, as real
    producers draw it, so the extractor must put it back in reading order."""
    chars = sorted({c for page in pages for line in page for c in _visual(line)})
    assert len(chars) < 200
    code = {c: 0x21 + i for i, c in enumerate(chars)}
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /K def "
            "/CMapType 2 def 1 begincodespacerange <00> <FF> endcodespacerange\n"
            f"{len(chars)} beginbfchar\n"
            + "\n".join(f"<{code[c]:02X}> <{c.encode('utf-16-be').hex().upper()}>" for c in chars)
            + "\nendbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end"
            ).encode()
    objects: list[bytes] = [b"", b"", b""]  # font, its ToUnicode map, the page tree
    kids = []
    for lines in pages:
        ops = ["BT /F1 12 Tf 14 TL 72 720 Td"]
        ops += ["<" + "".join(f"{code[c]:02X}" for c in _visual(line)) + "> Tj T*"
                for line in lines]
        content = "\n".join([*ops, "ET"]).encode() if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(f"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents "
                       f"{len(objects)} 0 R /Resources << /Font << /F1 1 0 R >> >> >>".encode())
        kids.append(len(objects))
    widths = " ".join(["500"] * len(chars))
    objects[0] = (f"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 33 "
                  f"/LastChar {0x20 + max(len(chars), 1)} /Widths [{widths}] /ToUnicode 2 0 R >>"
                  ).encode()
    objects[1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap)
    objects[2] = (f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] "
                  f"/Count {len(kids)} >>").encode()
    objects.append(b"<< /Type /Catalog /Pages 3 0 R >>")
    trailer = f"/Root {len(objects)} 0 R"
    if title:
        objects.append(b"<< /Title <FEFF" + title.encode("utf-16-be").hex().encode() + b"> >>")
        trailer += f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} {trailer} >>\nstartxref\n{xref}\n%%EOF\n"
            ).encode()
    return bytes(out)


def _visual(line: str) -> str:
    return line[::-1] if any("\u0600" <= c <= "\u06ff" for c in line) else line
