/**
 * What one config revision serves with: its routers, with their route states and
 * key files. Built whole and swapped in by one reference assignment (client.ts), so
 * a call in flight finishes on the snapshot it started with. A route whose (alias,
 * identity) is unchanged keeps its state (the very same object when nothing about it
 * changed, else a new one with its cooldown); each alias keeps its session map; key
 * files are shared by path.
 */
import * as path from "node:path";

import type { ClientConfig, Route } from "./config.js";
import { awsKeyParts, KeyFile, parseAwsCredentials, parseToken } from "./keys.js";
import { AliasRouter, type Clock, type Random, RouteState, type Sessions } from "./router.js";

export interface Snapshot {
  readonly config: ClientConfig;
  readonly routers: ReadonlyMap<string, AliasRouter>;
  readonly revision: string;
}

/** What building needs from the client. */
export interface BuildContext {
  clock: Clock;
  random: Random;
  keyCheckInterval: number;
  /** The key files of the serving snapshot, by path (reused when a route keeps its file). */
  keyFiles: ReadonlyMap<string, KeyFile>;
  /** A new key file's change callback (a log line with the fingerprint). */
  onKeyChange: (file: string, fresh: string | null) => void;
}

/** The snapshot of `config`, and its key files by path; unchanged routes of `old` keep their state. */
export function buildSnapshot(config: ClientConfig, old: Snapshot | null,
                              ctx: BuildContext): [Snapshot, Map<string, KeyFile>] {
  const kept = new Map<string, RouteState>();
  const sessions = new Map<string, Sessions>();
  if (old) {
    for (const [alias, router] of old.routers) {
      sessions.set(alias, router.sessions);
      for (const rs of router.routes) kept.set(JSON.stringify([alias, rs.ident]), rs);
    }
  }
  const keyFiles = new Map<string, KeyFile>();
  const routers = new Map<string, AliasRouter>();
  for (const [alias, spec] of config.aliases) {
    const states = spec.routes.map((route, i) => state(alias, spec.family, i, route, keyFiles, kept, ctx));
    routers.set(alias, new AliasRouter(alias, spec.family, states, ctx.clock, config.revision,
                                       ctx.random, sessions.get(alias)));
  }
  return [{ config, routers, revision: config.revision }, keyFiles];
}

function state(alias: string, family: string, index: number, route: Route, keyFiles: Map<string, KeyFile>,
               kept: Map<string, RouteState>, ctx: BuildContext): RouteState {
  const wire = route.wire;
  let kf = keyFiles.get(route.keyFile) ?? ctx.keyFiles.get(route.keyFile);
  if (!kf) {
    const aws = wire?.secret === "aws";
    const dir = path.dirname(route.keyFile);
    const parts = aws ? awsKeyParts(path.basename(route.keyFile))
      .map(([f, field]): [string, string] => [path.join(dir, f), field]) : [];
    kf = new KeyFile(route.keyFile, ctx.keyCheckInterval, aws ? parseAwsCredentials : parseToken, parts);
    kf.onChange = (file, _old, fresh) => ctx.onKeyChange(file, fresh);
  }
  keyFiles.set(route.keyFile, kf);
  const usable = wire !== undefined && wire.family === family;
  const old = kept.get(JSON.stringify([alias, route.identity]));
  if (old && old.index === index && old.key === kf && old.usable === usable &&
      JSON.stringify(old.route) === JSON.stringify(route)) {
    return old; // the very same route: in-flight and new calls share its state
  }
  const rs = new RouteState(route, index, kf, usable);
  if (old) rs.cooldownUntil = old.cooldownUntil;
  return rs;
}
