"""The client's own small exception tree (from aigw only the fast-path switch).

No message here ever holds a key value: attempts name a provider, a slot, an
outcome and at most the key's fingerprint (sha256[:12]).
"""

from __future__ import annotations

from dataclasses import dataclass

from .fastpath import keyword_builder


# Frozen without slots: the request path builds one per attempt with `attempt`,
# which fills the instance dict in one step (a frozen slotted dataclass pays one
# object.__setattr__ per field, several microseconds per call).
@dataclass(frozen=True)
class Attempt:
    """One try of one route, as reported to `on_attempt` and in `AllRoutesFailed`.

    `outcome` is ``ok``, ``timeout``, ``connect_error``, ``transport_error``,
    ``http_<status>``, ``bad_response`` (a 2xx stream that failed before its first
    event), ``no_key``, ``unsupported_api`` or ``wrong_family`` (docs/client.md).
    """

    alias: str
    provider: str
    slot: str
    route: int
    outcome: str
    latency: float
    key_fingerprint: str = ""
    status: int | None = None
    # The revision of the config the call started on ("" when the file has none).
    # Keep it last: positional constructors of the fields above keep working.
    revision: str = ""


_build_attempt = keyword_builder(Attempt)


def attempt(alias: str, provider: str, slot: str, route: int, outcome: str, latency: float,
            key_fingerprint: str, status: int | None, revision: str) -> Attempt:
    """``Attempt(...)`` with every field given, built without the per-field setattr
    (`fastpath.keyword_builder`).

    Its parameters are Attempt's fields, in order (tests/client/test_client.py
    checks): keyword arguments are the fastest way to fill the instance dict."""
    return _build_attempt(alias=alias, provider=provider, slot=slot, route=route,
                          outcome=outcome, latency=latency, key_fingerprint=key_fingerprint,
                          status=status, revision=revision)


class ClientError(Exception):
    """Root of every error raised by aigw.client."""


class ConfigError(ClientError):
    """aigw-client.json is missing, unreadable or not the documented shape."""


class UnknownAlias(ClientError):
    """The model alias is not in this service's config."""


class WrongFamily(ClientError):
    """The alias speaks another wire family than the API it was called through."""

    def __init__(self, alias: str, family: str, called_as: str) -> None:
        self.alias = alias
        self.family = family
        self.called_as = called_as
        via = {"openai": "Client.openai() or client.chat.completions",
               "anthropic": "Client.anthropic()"}
        super().__init__(f"model alias {alias!r} speaks the {family} family, not "
                         f"{called_as}; call it through "
                         f"{via.get(family, f'Client.sdk({family!r})')}")


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

    @classmethod
    def rejected(cls, alias: str, status: int, body: str) -> ProviderError:
        """aigw itself refused the request (no route can serve it)."""
        return cls(alias, Attempt(alias, "aigw", "-", -1, f"http_{status}", 0.0, "", status),
                   body)


class StreamInterrupted(ClientError):
    """A stream broke after its first chunk was delivered (no failover then)."""
