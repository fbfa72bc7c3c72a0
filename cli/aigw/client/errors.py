"""The client's own small exception tree (it imports nothing else from aigw).

No message here ever holds a key value: attempts name a provider, a slot, an
outcome and at most the key's fingerprint (sha256[:12]).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one route, as reported to `on_attempt` and in `AllRoutesFailed`.

    `outcome` is ``ok``, ``timeout``, ``connect_error``, ``transport_error``,
    ``http_<status>``, ``no_key``, ``unsupported_api`` or ``empty_stream``.
    """

    alias: str
    provider: str
    slot: str
    route: int
    outcome: str
    latency: float
    key_fingerprint: str = ""
    status: int | None = None


class ClientError(Exception):
    """Root of every error raised by aigw.client."""


class ConfigError(ClientError):
    """aigw-client.json is missing, unreadable or not the documented shape."""


class UnknownAlias(ClientError):
    """The model alias is not in this service's config."""


class AllRoutesFailed(ClientError):
    """Every route of an alias was tried and none answered."""

    def __init__(self, alias: str, attempts: list[Attempt]) -> None:
        self.alias = alias
        self.attempts = attempts
        tried = "; ".join(f"{a.provider}/{a.slot}: {a.outcome}" for a in attempts)
        super().__init__(f"all routes for {alias!r} failed ({len(attempts)} attempts): {tried}")


class ProviderError(ClientError):
    """A provider rejected the request itself (a 4xx other than 401/403/429).

    Not retried on another route: the request, not the route, is at fault.
    `body` is the provider's answer, cut to 2,000 characters.
    """

    def __init__(self, alias: str, attempt: Attempt, body: str) -> None:
        self.alias = alias
        self.attempt = attempt
        self.status_code = attempt.status
        self.body = body[:2000]
        super().__init__(f"{attempt.provider}/{attempt.slot} answered HTTP {attempt.status} "
                         f"for {alias!r}")


class StreamInterrupted(ClientError):
    """A stream broke after its first chunk was delivered (no failover then)."""
