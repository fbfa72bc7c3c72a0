/**
 * Load and check `aigw-client.json` version 1 (the contract: spec/README.md).
 *
 * The parsed `ClientConfig` is immutable. Each `Route` has a stable `identity`,
 * so a newer config swapped in (live.ts) keeps the state (cooldown, affinity)
 * of routes that did not change.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";

import { ConfigError } from "./errors.js";
import { bedrockBaseUrl, FAMILIES, type Family, type JsonObject, type Wire, wireOf } from "./wire.js";

export const SUPPORTED_VERSION = 1;

/** One provider route of an alias, in fallback order. */
export interface Route {
  readonly provider: string;
  readonly api: string;
  readonly baseUrl: string;
  readonly model: string;
  readonly slot: string;
  /** Absolute path of the key file. */
  readonly keyFile: string;
  /** Seconds. */
  readonly timeout: number;
  readonly retries: number;
  /** Seconds. */
  readonly cooldown: number;
  readonly extra: JsonObject;
  readonly awsRegion: string;
  /** Share of the alias's first attempts (0-100); null: a fallback only. */
  readonly weight: number | null;
  /** The wire API, undefined when this client does not know it (the route is skipped). */
  readonly wire: Wire | undefined;
  /** What makes two routes the same route across config versions. */
  readonly identity: string;
  /** The route's `price` as written (parsed by cost.ts, off the request path); null: none. */
  readonly price: unknown;
}

export interface AliasConfig {
  readonly family: Family;
  readonly routes: readonly Route[];
}

export interface AcksConfig {
  readonly raw: JsonObject;
}

/** A service's routes per model alias, with key files resolved to paths. */
export interface ClientConfig {
  readonly service: string;
  readonly environment: string;
  readonly keyDir: string;
  readonly aliases: ReadonlyMap<string, AliasConfig>;
  /** The file it was read from, when read from one. */
  readonly path: string | null;
  readonly revision: string;
  readonly catalogCommit: string;
  /** SHA-256 (hex) of the file's bytes, when read from a file. */
  readonly sourceSha256: string;
  /** The `acks` block, when the file has one. */
  readonly acks: JsonObject | null;
  /** Aliases this client skipped (an unknown family), with the reason. */
  readonly skipped: ReadonlyMap<string, string>;
}

type Kind = "string" | "number" | "integer" | "object" | "array";

function label(kind: Kind): string {
  return { string: "str", number: "number", integer: "int", object: "dict", array: "list" }[kind];
}

function get(obj: unknown, name: string, kind: Kind, where: string): any {
  const at = where ? `${where}.${name}` : name;
  if (typeof obj !== "object" || obj === null || Array.isArray(obj) || !(name in obj)) {
    throw new ConfigError(`${at}: missing`);
  }
  const value = (obj as Record<string, unknown>)[name];
  const ok = kind === "string" ? typeof value === "string"
    : kind === "number" ? typeof value === "number"
    : kind === "integer" ? Number.isInteger(value)
    : kind === "array" ? Array.isArray(value)
    : typeof value === "object" && value !== null && !Array.isArray(value);
  if (!ok) throw new ConfigError(`${at}: expected ${label(kind)}`);
  return value;
}

function opt(raw: unknown, name: string): unknown {
  return typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[name] : undefined;
}

function parseRoute(raw: unknown, where: string, keyDir: string): Route {
  const keyFile = get(raw, "key_file", "string", where) as string;
  const api = get(raw, "api", "string", where) as string;
  const wire = wireOf(api);
  const extra = { ...(get(raw, "extra", "object", where) as JsonObject) };
  let region = opt(raw, "aws_region");
  if (wire && !wire.needsBaseUrl && !region) {
    // Configs rendered before aws_region existed kept LiteLLM's name in extra.
    region = extra["aws_region_name"];
    delete extra["aws_region_name"];
  }
  if (region !== undefined && region !== null && typeof region !== "string") {
    throw new ConfigError(`${where}.aws_region: expected str`);
  }
  let baseUrl = opt(raw, "base_url");
  if ((baseUrl === null || baseUrl === undefined) && wire && !wire.needsBaseUrl) {
    if (!region) {
      throw new ConfigError(`${where}.aws_region: missing (a Bedrock route with no base_url needs its AWS region)`);
    }
    baseUrl = bedrockBaseUrl(region as string);
  } else if ((baseUrl === null || baseUrl === undefined) && !wire) {
    baseUrl = ""; // never called: the route is skipped as unsupported
  } else {
    baseUrl = get(raw, "base_url", "string", where);
  }
  const weight = opt(raw, "weight");
  if (weight !== undefined && weight !== null &&
      (!Number.isInteger(weight) || (weight as number) < 0 || (weight as number) > 100)) {
    throw new ConfigError(`${where}.weight: expected a whole number 0-100 or null`);
  }
  const provider = get(raw, "provider", "string", where) as string;
  const model = get(raw, "model", "string", where) as string;
  const slot = get(raw, "slot", "string", where) as string;
  const base = (baseUrl as string).replace(/\/+$/, "");
  return {
    provider, api, model, slot, wire, extra,
    baseUrl: base,
    keyFile: path.isAbsolute(keyFile) ? keyFile : path.join(keyDir, keyFile),
    timeout: get(raw, "timeout", "number", where),
    retries: get(raw, "retries", "integer", where),
    cooldown: get(raw, "cooldown", "number", where),
    awsRegion: (region as string | undefined) || "",
    weight: (weight as number | null | undefined) ?? null,
    identity: JSON.stringify([provider, slot, api, model, base]),
    price: opt(raw, "price") ?? null,
  };
}

/**
 * Where key files are, for a config whose folder is `baseDir`: a relative `key_dir`
 * is relative to the rendered folder; a config whose folder already ends with
 * `key_dir` is the agent's live copy, its keys beside it.
 */
export function resolveKeyDir(keyDir: string, baseDir: string): string {
  if (path.isAbsolute(keyDir)) return keyDir;
  const parts = keyDir.split(/[\\/]+/).filter((p) => p && p !== ".");
  const base = baseDir.split(path.sep).filter(Boolean);
  if (parts.length && parts.every((p, i) => base[base.length - parts.length + i] === p)) {
    return baseDir;
  }
  return path.join(baseDir, keyDir);
}

function optionalString(raw: unknown, name: string): string {
  const value = opt(raw, name);
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new ConfigError(`${name}: expected str`);
  return value;
}

/** Build a `ClientConfig` from decoded JSON; relative paths resolve from `baseDir`. */
export function parseConfig(raw: unknown, baseDir: string, file: string | null = null,
                            warn: (msg: string) => void = () => {}): ClientConfig {
  const version = get(raw, "version", "integer", "");
  if (version !== SUPPORTED_VERSION) {
    throw new ConfigError(`version: ${version} is not supported (this client reads version ` +
                          `${SUPPORTED_VERSION}); upgrade @aigw/client`);
  }
  const keyDir = resolveKeyDir(get(raw, "key_dir", "string", ""), baseDir);
  const aliases = new Map<string, AliasConfig>();
  const skipped = new Map<string, string>();
  for (const [alias, spec] of Object.entries(get(raw, "aliases", "object", "") as object)) {
    const where = `aliases.${alias}`;
    const written = opt(spec, "family");
    if (written !== undefined && written !== null && !(FAMILIES as readonly unknown[]).includes(written)) {
      // Forward compatible (R1): an alias of a family this client does not know is
      // skipped whole, its routes unread (a newer family may shape them otherwise).
      const reason = `${where}.family: ${JSON.stringify(written)} is not one of ${FAMILIES.join(", ")}`;
      skipped.set(alias, reason);
      warn(`${reason}; the alias is skipped`);
      continue;
    }
    const routes = get(spec, "routes", "array", where) as unknown[];
    if (!routes.length) throw new ConfigError(`${where}.routes: needs at least one route`);
    const parsed = routes.map((r, i) => parseRoute(r, `${where}.routes[${i}]`, keyDir));
    let family: Family;
    if (written !== undefined && written !== null) {
      family = written as Family;
    } else {
      family = parsed.find((r) => r.wire)?.wire?.family ?? "openai";
    }
    parsed.forEach((r, i) => {
      if (r.wire && r.wire.family !== family) {
        warn(`${where}.routes[${i}]: api '${r.api}' is ${r.wire.family}-family in a ${family}-family alias; it is skipped`);
      }
    });
    aliases.set(alias, { family, routes: parsed });
  }
  const acks = opt(raw, "acks");
  return {
    service: get(raw, "service", "string", ""),
    environment: get(raw, "environment", "string", ""),
    keyDir, aliases, path: file, skipped,
    revision: optionalString(raw, "revision"),
    catalogCommit: optionalString(raw, "catalog_commit"),
    sourceSha256: "",
    acks: typeof acks === "object" && acks !== null && !Array.isArray(acks) ? acks as JsonObject : null,
  };
}

/** Parse the bytes read from `file` (errors name the file: `<file>: <field>: ...`). */
export function configFromBytes(data: Buffer, file: string,
                                warn?: (msg: string) => void): ClientConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (exc) {
    throw new ConfigError(`${file}: not valid JSON (${(exc as Error).message})`);
  }
  let config: ClientConfig;
  try {
    config = parseConfig(raw, path.dirname(file), file, warn);
  } catch (exc) {
    if (exc instanceof ConfigError) throw new ConfigError(`${file}: ${exc.message}`);
    throw exc;
  }
  return { ...config, sourceSha256: createHash("sha256").update(data).digest("hex") };
}

/** The bytes of the config file at `file` (ConfigError when unreadable). */
export function readConfigFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (exc) {
    throw new ConfigError(`${file}: cannot read (${(exc as NodeJS.ErrnoException).code ?? exc})`);
  }
}

/** Read `aigw-client.json` at `file`. */
export function loadConfig(file: string, warn?: (msg: string) => void): ClientConfig {
  const abs = path.resolve(file);
  return configFromBytes(readConfigFile(abs), abs, warn);
}
