"""aigw.client: the runtime a Python service imports to call its model aliases.

It reads the rendered ``aigw-client.json``, keeps each route's key in step with
its key file, and tries routes in fallback order, as an httpx transport under
the official SDKs or under a small dict API. It depends only on httpx
(watchfiles, opentelemetry, the openai / anthropic SDKs and botocore are used
when installed) and imports nothing else from aigw::

    from aigw.client import Client

    client = Client.from_file("/etc/aigw/aigw-client.json")
    oai = client.openai()            # an openai.OpenAI; the alias is the model
    reply = oai.chat.completions.create(model="deepseek-v3", messages=[...])
    claude = client.anthropic()      # an anthropic.Anthropic
    msg = claude.messages.create(model="claude-eu", max_tokens=512, messages=[...])
    reply = client.chat.completions.create(model="deepseek-v3", messages=[...])  # dicts

`AsyncClient` is the same for asyncio code.
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
    WrongFamily,
)
from .keys import fingerprint
from .live import ConfigStatus
from .streaming import AsyncChatStream, ChatStream
from .transport import AsyncFailoverTransport, FailoverTransport, attempts_of

__all__ = [
    "AllRoutesFailed",
    "AsyncChat",
    "AsyncChatStream",
    "AsyncClient",
    "AsyncCompletions",
    "AsyncFailoverTransport",
    "Attempt",
    "Chat",
    "ChatStream",
    "Client",
    "ClientConfig",
    "ClientError",
    "Completions",
    "ConfigError",
    "ConfigStatus",
    "FailoverTransport",
    "ProviderError",
    "Route",
    "StreamInterrupted",
    "UnknownAlias",
    "WrongFamily",
    "attempts_of",
    "fingerprint",
    "load_config",
]
