/**
 * Which route to try next: weights, fallback order, cooldowns and session affinity.
 * Time comes from an injected clock and the weighted draw from an injected
 * random source, so decisions are testable without sleeping.
 */
import type { Route } from "./config.js";
import type { KeyFile } from "./keys.js";
import type { Wire } from "./wire.js";

export const MAX_SESSIONS = 10_000;
/** Seconds, monotonic. */
export type Clock = () => number;
/** A number in [0, 1). */
export type Random = () => number;
/** A session's route, by route identity: the map outlives a config swap. */
export type Sessions = Map<string, string>;

/** A route plus what the client learned about it: its key file, its cooldown. */
export class RouteState {
  cooldownUntil = 0;
  readonly wire: Wire | undefined;
  readonly usable: boolean;
  readonly ident: string;
  readonly host: string;

  constructor(readonly route: Route, readonly index: number, readonly key: KeyFile, usable = true) {
    this.wire = route.wire;
    this.usable = usable && route.wire !== undefined;
    this.ident = route.identity;
    let host = "";
    try {
      host = route.baseUrl ? new URL(route.baseUrl).hostname : "";
    } catch { /* an unusable base_url: the route fails when called */ }
    this.host = host;
  }

  /** Skip this route for `cooldown` seconds from `now`. */
  coolDown(now: number): void {
    this.cooldownUntil = now + this.route.cooldown;
  }
}

/** The routes of one alias (in one config revision) and the order to try them in. */
export class AliasRouter {
  readonly sessions: Sessions;
  private readonly byId: Map<string, RouteState>;
  private readonly weighted: RouteState[] | null;

  constructor(readonly alias: string, readonly family: string, readonly routes: RouteState[],
              private readonly clock: Clock, readonly revision: string,
              private readonly random: Random, sessions?: Sessions) {
    this.sessions = sessions ?? new Map();
    this.byId = new Map(routes.map((r) => [r.ident, r]));
    const weighted = routes.filter((r) => r.route.weight && r.usable);
    this.weighted = weighted.length ? weighted : null;
  }

  /**
   * The routes to try, best first: healthy ones in fallback order, then cooling
   * ones as a last resort. First goes a session's last route while it is
   * healthy, else, when routes have weights, one healthy weighted route drawn
   * by weight.
   */
  order(sessionId: string | null): RouteState[] {
    const now = this.clock();
    const routes = this.routes;
    if (routes.length === 1 && routes[0]!.cooldownUntil <= now) return routes;
    const healthy = routes.filter((r) => r.cooldownUntil <= now);
    if (healthy.length) {
      let first: RouteState | null = null;
      if (sessionId !== null) {
        const ident = this.sessions.get(sessionId);
        const sticky = ident === undefined ? undefined : this.byId.get(ident);
        if (sticky && sticky.cooldownUntil <= now) first = sticky;
      }
      if (first === null && this.weighted !== null) first = this.pick(now);
      if (first !== null && healthy[0] !== first) {
        healthy.splice(healthy.indexOf(first), 1);
        healthy.unshift(first);
      }
    }
    if (healthy.length === routes.length) return healthy;
    return healthy.concat(routes.filter((r) => r.cooldownUntil > now));
  }

  /** A healthy weighted route, drawn by weight (null when none is healthy). */
  private pick(now: number): RouteState | null {
    const live = this.weighted!.filter((r) => r.cooldownUntil <= now);
    if (!live.length) return null;
    if (live.length === 1) return live[0]!;
    let x = this.random() * live.reduce((s, r) => s + (r.route.weight ?? 0), 0);
    for (const r of live) {
      x -= r.route.weight ?? 0;
      if (x < 0) return r;
    }
    return live[live.length - 1]!;
  }

  /** Remember that `route` answered; a success also ends its cooldown. */
  served(route: RouteState, sessionId: string | null): void {
    route.cooldownUntil = 0;
    if (sessionId !== null && this.sessions.get(sessionId) !== route.ident) {
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, route.ident);
      if (this.sessions.size > MAX_SESSIONS) {
        this.sessions.delete(this.sessions.keys().next().value!);
      }
    }
  }

  /** Drop sessions whose route this router does not have; how many were dropped. */
  forgetRemoved(): number {
    let n = 0;
    for (const [sid, ident] of this.sessions) {
      if (!this.byId.has(ident)) {
        this.sessions.delete(sid);
        n++;
      }
    }
    return n;
  }
}
