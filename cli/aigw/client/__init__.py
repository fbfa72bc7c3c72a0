"""aigw.client: the runtime a Python service imports to call its model aliases.

It reads the rendered ``aigw-client.json``, keeps each route's key in step with
its key file, and tries routes in fallback order. It depends only on httpx
(watchfiles and opentelemetry are used when installed) and imports nothing else
from aigw, so a service can install it without the CLI's dependencies::

    from aigw.client import Client

    client = Client.from_file("/etc/aigw/aigw-client.json")
    reply = client.chat.completions.create(model="chat-default", messages=[...])

`AsyncClient` is the same for asyncio code (``await client.chat.completions.create``).
"""

from .aio import AsyncChat, AsyncClient, AsyncCompletions
from .client import Chat, Client, Completions
from .config import ClientConfig, Route, load_config
from .errors import (
    AllRoutesFailed,
    Attempt,
    ClientError,
    ConfigError,
    ProviderError,
    StreamInterrupted,
    UnknownAlias,
)
from .keys import fingerprint
from .streaming import AsyncChatStream, ChatStream

__all__ = [
    "AllRoutesFailed",
    "AsyncChat",
    "AsyncChatStream",
    "AsyncClient",
    "AsyncCompletions",
    "Attempt",
    "Chat",
    "ChatStream",
    "Client",
    "ClientConfig",
    "ClientError",
    "Completions",
    "ConfigError",
    "ProviderError",
    "Route",
    "StreamInterrupted",
    "UnknownAlias",
    "fingerprint",
    "load_config",
]
