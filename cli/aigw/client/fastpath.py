"""The client's speed tricks, each with its plain twin, in one place (docs/architecture.md#fast-paths).

Every trick here gives what its twin gives through public APIs only, faster:

- `Requests`: outgoing httpx/httpx2 requests assembled from httpx's internal
  header triples (``Headers._list``) instead of its constructor, which
  normalises every header and re-parses the URL on each request; incoming
  requests' headers and body read from the same internals;
- `new_tuple`: a NamedTuple built with ``tuple.__new__``, without its
  Python-level ``__new__``;
- `keyword_builder`: a frozen dataclass filled through its instance dict in one
  step, not one ``object.__setattr__`` per field.

``AIGW_NO_FASTPATH=1`` (`aigw.fastpath.ENABLED`) makes every one of them its
twin; `Requests` also falls back by itself when httpx's internals are not the
shape it checks for. Nothing outside this module touches a private httpx name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aigw.fastpath import ENABLED

from .httpapi import URL, Extensions, HttpModule, Request

if TYPE_CHECKING:  # (errors imports this module; wire imports errors' neighbours)
    from .wire import Headers

T = TypeVar("T")
NT = TypeVar("NT", bound=tuple[Any, ...])


def _plain_tuple(cls: type[NT], values: tuple[Any, ...]) -> NT:
    return cls(*values)


# new_tuple(cls, values): the NamedTuple `cls` of `values` (all its fields, in order).
new_tuple: Callable[[type[NT], tuple[Any, ...]], NT] = \
    tuple.__new__ if ENABLED else _plain_tuple  # type: ignore[assignment]


def keyword_builder(cls: Callable[..., T]) -> Callable[..., T]:
    """``cls(**fields)`` for a frozen dataclass without slots, given every field."""
    if not ENABLED:
        return cls
    new = object.__new__

    def build(**fields: Any) -> T:
        obj = new(cls)  # type: ignore[arg-type]
        obj.__dict__.update(fields)
        return obj  # type: ignore[no-any-return]

    return build


class Requests:
    """Reads and builds the requests of one httpx-like module (httpx or httpx2).

    httpx's constructors normalise every header and re-parse the URL on each
    request, which costs more than everything else aigw does per call. The
    transport already has the parts in httpx's own internal shape (header
    triples, a parsed URL), so on the fast path it assembles requests directly,
    after checking once that the result is what httpx's public constructor
    would give; otherwise (the switch, or an httpx whose internals differ) it
    uses the constructor.
    """

    def __init__(self, h: HttpModule, fast: bool = ENABLED) -> None:
        self.h = h
        self.fast = fast and self._check()
        # build(method, url, headers, content, ext): the request; `headers` include
        # Host and Content-Length (set by the caller).
        self.build: Callable[[str, URL, Headers, bytes, Extensions], Request] = \
            self._fast if self.fast else self._plain
        # headers(request): an incoming request's header triples (not to be modified);
        # body(request): its body (b"" for a GET).
        self.headers: Callable[[Request], Headers] = \
            self._triples if self.fast else self._plain_headers
        self.body: Callable[[Request], bytes] = self._fast_body if self.fast else self._plain_body

    def _check(self) -> bool:
        h: Any = self.h
        url = h.URL("http://x:1/p?q=1")
        triples = [(b"host", b"host", b"x:1"), (b"a", b"a", b"b")]
        try:
            fast = self._fast("POST", url, triples, b"{}", {"timeout": None})
            plain = self._plain("POST", url, triples, b"{}", {"timeout": None})
            return (fast.headers.raw == plain.headers.raw and fast.url == plain.url
                    and fast.headers["a"] == "b" and vars(fast).keys() >= vars(plain).keys()
                    and h.Headers([(b"A", b"b")])._list == [(b"A", b"a", b"b")]
                    and b"".join(fast.stream) == b"{}"
                    and self._content(fast) == b"{}" and self._triples(fast) == triples)
        except Exception:  # pragma: no cover - an httpx with other internals
            return False

    def _fast(self, method: str, url: URL, headers: Headers, content: bytes,
              ext: Extensions) -> Any:
        h: Any = self.h
        req = object.__new__(h.Request)
        hdrs = object.__new__(h.Headers)
        hdrs._list = headers
        hdrs._encoding = None
        req.method, req.url, req.headers, req.extensions = method, url, hdrs, ext
        req.stream = h.ByteStream(content)
        req._content = content
        return req

    def _plain(self, method: str, url: URL, headers: Headers, content: bytes,
               ext: Extensions) -> Request:
        h: Any = self.h
        return h.Request(method, url, headers=[(k, v) for k, _, v in headers],  # type: ignore[no-any-return]
                         stream=h.ByteStream(content), extensions=ext)

    @staticmethod
    def _triples(request: Any) -> Headers:
        return request.headers._list  # type: ignore[no-any-return]

    @staticmethod
    def _content(request: Any) -> bytes | None:
        return getattr(request, "_content", None)

    @staticmethod
    def _plain_headers(request: Request) -> Headers:
        return [(k, k.lower(), v) for k, v in request.headers.raw]

    @staticmethod
    def _fast_body(request: Request) -> bytes:
        raw: bytes | None = getattr(request, "_content", None)  # (the SDK sent bytes)
        if raw is not None:
            return raw
        return request.read() if request.method != "GET" else b""

    @staticmethod
    def _plain_body(request: Request) -> bytes:
        return request.read() if request.method != "GET" else b""
