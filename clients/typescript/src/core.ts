/**
 * The sans-I/O decisions: which route and credential to send to next, from the
 * results of the sends so far (spec/README.md, the failover rules). `plan` is a
 * generator the fetch drives; it does no I/O itself.
 */
import { AllRoutesFailed, type Attempt } from "./errors.js";
import type { AliasRouter, RouteState } from "./router.js";

/** Transient: worth a retry on the same route, then a cooldown. */
export const TRANSIENT_4XX = new Set([408, 409, 425, 429]);

/** What one send produced: HTTP status (null if none), value, outcome, latency (s). */
export interface Result {
  status: number | null;
  value: unknown;
  outcome: string;
  latency: number;
}

/** How a call ended: the route and value that decided it, and every attempt. */
export interface Decision {
  route: RouteState;
  value: unknown;
  attempts: Attempt[];
}

export type Plan = Generator<[RouteState, unknown], Decision, Result>;

export interface PlanHooks {
  clock: () => number;
  record(attempts: Attempt[], rs: RouteState, alias: string, revision: string,
         status: number | null, outcome: string, latency: number, fp: string): void;
  /** Why a usable route cannot be sent to now (e.g. no SigV4 signer), or null. */
  unavailable(rs: RouteState): string | null;
  used(rs: RouteState, fp: string, revision: string): void;
  /** A route went into cooldown after `outcome`. */
  cooled(rs: RouteState, outcome: string): void;
}

/** The outcome of a route skipped without a send, or null when it can be tried. */
function skipOutcome(rs: RouteState, hooks: PlanHooks): string | null {
  if (!rs.usable) return rs.wire === undefined ? "unsupported_api" : "wrong_family";
  return hooks.unavailable(rs);
}

/**
 * Decide which route and credential to send to next. Returns at the deciding
 * attempt: `ok`, or a 4xx that blames the request (not the route). Throws
 * `AllRoutesFailed` when no route answered usefully.
 */
export function* plan(router: AliasRouter, sessionId: string | null, hooks: PlanHooks): Plan {
  const attempts: Attempt[] = [];
  const { alias, revision } = router;
  for (const rs of router.order(sessionId)) {
    const skip = skipOutcome(rs, hooks);
    const current = skip === null ? rs.key.get() : null;
    if (current === null) {
      hooks.record(attempts, rs, alias, revision, null, skip ?? "no_key", 0, "");
      continue;
    }
    let [key, fp] = current;
    let reloaded = false;
    let retriesLeft = rs.route.retries;
    for (;;) {
      const { status, value, outcome, latency } = yield [rs, key];
      hooks.record(attempts, rs, alias, revision, status, outcome, latency, fp);
      if (status !== null && status < 400) {
        router.served(rs, sessionId);
        hooks.used(rs, fp, revision);
        return { route: rs, value, attempts };
      }
      if (status === 401 || status === 403) {
        // Re-read the key once; retry only with a different key, else move on.
        if (!reloaded) {
          reloaded = true;
          const fresh = rs.key.reload();
          if (fresh !== null && fresh[1] !== fp) {
            [key, fp] = fresh;
            continue;
          }
        }
        break;
      }
      if (status !== null && status < 500 && !TRANSIENT_4XX.has(status)) {
        return { route: rs, value, attempts };
      }
      if (retriesLeft > 0) {
        retriesLeft--;
        continue;
      }
      rs.coolDown(hooks.clock());
      hooks.cooled(rs, outcome);
      break;
    }
  }
  throw new AllRoutesFailed(alias, attempts);
}
