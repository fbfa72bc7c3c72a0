/**
 * The client's own small error tree. No message here ever holds a key value:
 * attempts name a provider, a slot, an outcome and at most the key's
 * fingerprint (sha256[:12]).
 */

/** One try of one route, as reported to `onAttempt` and in `AllRoutesFailed`. */
export interface Attempt {
  readonly alias: string;
  readonly provider: string;
  readonly slot: string;
  /** The route's index in the alias's fallback order. */
  readonly route: number;
  /**
   * `ok`, `timeout`, `connect_error`, `transport_error`, `http_<status>`,
   * `bad_response`, `no_key`, `unsupported_api`, `wrong_family` or `no_signer`.
   */
  readonly outcome: string;
  /** Seconds. */
  readonly latency: number;
  readonly keyFingerprint: string;
  readonly status: number | null;
  /** The revision of the config the call started on ("" when the file has none). */
  readonly revision: string;
}

/** Root of every error raised by the aigw client. */
export class ClientError extends Error {
  override name = "ClientError";
}

/** aigw-client.json is missing, unreadable or not the documented shape. */
export class ConfigError extends ClientError {
  override name = "ConfigError";
}

/** The model alias is not in this service's config. */
export class UnknownAlias extends ClientError {
  override name = "UnknownAlias";
}

// The hint after the spec's pinned fragment ("... speaks the X family, not Y") is
// this client's own.
const VIA: Record<string, string> = {
  openai: "aigw.openai() or fetchFor(\"openai\")",
  anthropic: "aigw.anthropic() or fetchFor(\"anthropic\")",
};

/** The alias speaks another wire family than the API it was called through. */
export class WrongFamily extends ClientError {
  override name = "WrongFamily";
  constructor(readonly alias: string, readonly family: string, readonly calledAs: string) {
    super(`model alias '${alias}' speaks the ${family} family, not ${calledAs}; ` +
          `call it through ${VIA[family] ?? family}`);
  }
}

/** Every route of an alias was tried and none answered. */
export class AllRoutesFailed extends ClientError {
  override name = "AllRoutesFailed";
  constructor(readonly alias: string, readonly attempts: Attempt[]) {
    super(`all routes for '${alias}' failed (${attempts.length} attempts): ` +
          attempts.map((a) => `${a.provider}/${a.slot}: ${a.outcome}`).join("; "));
  }
}

/** A stream broke after its first event was delivered (no failover then). */
export class StreamInterrupted extends ClientError {
  override name = "StreamInterrupted";
}

/**
 * What aigw's `fetch` rejects with when no route answered at all, in the shape
 * the SDKs classify: a `TypeError` like undici's "fetch failed" (the SDK raises
 * `APIConnectionError`), or, when every route that was tried timed out, an error
 * whose message says "timed out" (the SDK raises `APIConnectionTimeoutError`).
 * `attempts` holds the call's attempts; its message never lists outcomes, since
 * the SDKs look for "timeout" in it.
 */
export class NoRouteAnswered extends TypeError {
  override name = "NoRouteAnswered";
  readonly aigw = true;
  constructor(readonly alias: string, readonly attempts: Attempt[], readonly timedOut: boolean) {
    super(timedOut
      ? `aigw: every route of '${alias}' timed out (${attempts.length} attempts)`
      : `fetch failed: aigw: no route of '${alias}' answered (${attempts.length} attempts, ` +
        "see error.attempts)");
  }
}

/** The attempts behind an SDK error, a Response from aigw's fetch, or an aigw error. */
export function attemptsOf(obj: unknown): Attempt[] {
  const seen = new Set<unknown>();
  const todo: unknown[] = [obj];
  while (todo.length) {
    const cur = todo.shift();
    if (cur === null || cur === undefined || typeof cur !== "object" || seen.has(cur)) continue;
    seen.add(cur);
    const attempts = (cur as { attempts?: unknown }).attempts;
    if (Array.isArray(attempts)) return attempts as Attempt[];
    const fromResponse = ATTEMPTS.get(cur);
    if (fromResponse) return fromResponse;
    for (const link of ["response", "cause", "error"]) {
      todo.push((cur as Record<string, unknown>)[link]);
    }
  }
  return [];
}

/** Attempts of the responses aigw's fetch returned (Responses are not extensible in spirit). */
export const ATTEMPTS = new WeakMap<object, Attempt[]>();
