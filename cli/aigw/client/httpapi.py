"""What the failover transport uses of httpx, as Protocols.

One transport serves httpx (the dict API) and httpx2 (what the openai and
anthropic SDKs use): the module is a constructor argument, typed here as
`HttpModule`, which both modules satisfy structurally (mypy checks each call
site that passes one). Only the public names the transport touches are listed;
the private ones its fast path uses are `aigw.client.fastpath`'s alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, Protocol

Extensions = MutableMapping[str, Any]


class URL(Protocol):
    """A parsed URL (``httpx.URL``)."""

    @property
    def netloc(self) -> bytes: ...

    @property
    def raw_path(self) -> bytes: ...


class ResponseHeaders(Protocol):
    """A response's headers (``httpx.Headers``), as the transport reads them."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def multi_items(self) -> list[tuple[str, str]]: ...


class Request(Protocol):
    """An outgoing or incoming request (``httpx.Request``)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> URL: ...

    @property
    def headers(self) -> Any: ...  # ``httpx.Headers``: read through fastpath.Requests

    def read(self) -> bytes: ...


class Response(Protocol):
    """A provider's answer (``httpx.Response``), sync or async."""

    @property
    def status_code(self) -> int: ...

    def close(self) -> None: ...

    @property
    def headers(self) -> ResponseHeaders: ...

    async def aclose(self) -> None: ...

    @property
    def extensions(self) -> Extensions: ...

    @property
    def stream(self) -> object: ...  # the body's byte stream (a replay, once handed on)

    @property
    def content(self) -> bytes: ...  # the body, read


class HttpModule(Protocol):
    """The httpx-like module (httpx or httpx2) a transport builds requests and answers with."""

    def __hash__(self) -> int: ...  # (streaming.replay_classes caches by module)

    @property
    def URL(self) -> Callable[[str], URL]: ...  # noqa: N802 - httpx's own name

    @property
    def Request(self) -> Callable[..., Request]: ...  # noqa: N802

    @property
    def Response(self) -> Callable[..., Response]: ...  # noqa: N802

    @property
    def ByteStream(self) -> Callable[[bytes], Iterable[bytes]]: ...  # noqa: N802

    @property
    def TransportError(self) -> type[Exception]: ...  # noqa: N802

    @property
    def TimeoutException(self) -> type[Exception]: ...  # noqa: N802

    @property
    def ConnectError(self) -> type[Exception]: ...  # noqa: N802


class SyncTransport(Protocol):
    """The transport a `FailoverTransport` sends each attempt through."""

    def handle_request(self, request: Any) -> Response: ...


class AsyncTransport(Protocol):
    """The transport an `AsyncFailoverTransport` sends each attempt through."""

    async def handle_async_request(self, request: Any) -> Response: ...
