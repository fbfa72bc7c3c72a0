/**
 * Every fact the client knows about a wire API, in one table (docs/client.md#families).
 *
 * A route's `api` names its wire API; each belongs to one family, the request
 * shape its callers speak. This module is pure: it prepares requests and never
 * sends one.
 */

export const FAMILIES = ["openai", "anthropic"] as const;
export type Family = (typeof FAMILIES)[number];
/** The Messages API version a caller gets when it sends none. */
export const ANTHROPIC_VERSION = "2023-06-01";
export const BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31";
export const BEDROCK_SERVICE = "bedrock";

export interface Wire {
  readonly name: string;
  readonly family: Family;
  /** "token": the key file holds one key; "aws": an AWS credentials file. */
  readonly secret: "token" | "aws";
  readonly auth: "bearer" | "x-api-key" | "sigv4";
  /** False for Bedrock InvokeModel: model in the URL, event-stream answers. */
  readonly needsBaseUrl: boolean;
}

export const WIRES: Readonly<Record<string, Wire>> = {
  openai: { name: "openai", family: "openai", secret: "token", auth: "bearer", needsBaseUrl: true },
  anthropic: { name: "anthropic", family: "anthropic", secret: "token", auth: "x-api-key", needsBaseUrl: true },
  bedrock: { name: "bedrock", family: "anthropic", secret: "aws", auth: "sigv4", needsBaseUrl: false },
  "bedrock-api-key": { name: "bedrock-api-key", family: "anthropic", secret: "token", auth: "bearer", needsBaseUrl: false },
};

export function wireOf(api: string): Wire | undefined {
  return Object.prototype.hasOwnProperty.call(WIRES, api) ? WIRES[api] : undefined;
}

export function isBedrock(wire: Wire): boolean {
  return !wire.needsBaseUrl;
}

export function bedrockBaseUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** The caller's body with the route's model; the route's `extra` fills keys it lacks. */
export function mergedBody(body: JsonObject, model: string, extra: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(extra)) if (!(k in body)) out[k] = extra[k]!;
  Object.assign(out, body);
  out["model"] = model;
  return out;
}

/** Headers a caller's SDK sets that aigw replaces per route. */
const DROP = new Set(["host", "content-length", "authorization", "x-api-key", "api-key",
  "connection", "x-aigw-alias", "x-aigw-session"]);
/** A stream is read as it comes: ask for it uncompressed. */
const DROP_STREAM = new Set([...DROP, "accept-encoding"]);
const BEDROCK_DROP = new Set([...DROP_STREAM, "anthropic-version", "anthropic-beta",
  "content-type", "accept"]);

export class BadRequest extends Error {}

/** A route as `prepare` needs it (a config `Route`). */
export interface RouteLike {
  readonly baseUrl: string;
  readonly model: string;
  readonly extra: JsonObject;
  readonly awsRegion: string;
}

/** One request as the caller sent it (body parsed when it is a JSON object). */
export interface Outgoing {
  url: string;
  /** Lower-case names (fetch validates them once, when it sends). */
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

export type Signer = (method: string, url: string, headers: Headers, body: string,
                      credential: unknown, region: string) => Promise<void>;

/** The auth headers a key-file credential gives on `wire` ([] for SigV4). */
export function authHeaders(wire: Wire, credential: unknown): [string, string][] {
  if (wire.auth === "x-api-key") return [["x-api-key", String(credential)]];
  if (wire.auth === "bearer") return [["authorization", `Bearer ${String(credential)}`]];
  return [];
}

function copyHeaders(from: Headers, drop: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  from.forEach((value, name) => {
    if (!drop.has(name)) out[name] = value;
  });
  return out;
}

/**
 * The URL, headers and body to send to one route. `form` is the caller's multipart
 * form, with `model` already rewritten; `raw` the caller's non-JSON body.
 */
export function prepare(route: RouteLike, wire: Wire, method: string, path: string,
                        body: JsonObject | null, raw: string | Uint8Array | undefined,
                        stream: boolean, headers: Headers, credential: unknown): Outgoing {
  if (isBedrock(wire)) return prepareBedrock(route, wire, method, path, body, stream, headers, credential);
  const out = copyHeaders(headers, stream ? DROP_STREAM : DROP);
  let content: Outgoing["body"];
  if (body === null) {
    content = raw;
  } else {
    content = JSON.stringify(mergedBody(body, route.model, route.extra));
  }
  for (const [k, v] of authHeaders(wire, credential)) out[k] = v;
  if (wire.auth === "x-api-key" && out["anthropic-version"] === undefined) {
    out["anthropic-version"] = ANTHROPIC_VERSION;
  }
  return { url: route.baseUrl + path, headers: out, body: content };
}

function prepareBedrock(route: RouteLike, wire: Wire, method: string, path: string,
                        body: JsonObject | null, stream: boolean, headers: Headers,
                        credential: unknown): Outgoing {
  if (path.split("?", 1)[0] !== "/v1/messages" || method !== "POST" || body === null) {
    throw new BadRequest(`Bedrock serves only POST /v1/messages here, not ${method} ${path}`);
  }
  const data = mergedBody(body, route.model, route.extra);
  delete data["model"];
  delete data["stream"];
  if (!("anthropic_version" in data)) data["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION;
  const betas = headers.get("anthropic-beta");
  if (betas && !("anthropic_beta" in data)) {
    data["anthropic_beta"] = betas.split(",").map((b) => b.trim());
  }
  const action = stream ? "invoke-with-response-stream" : "invoke";
  const url = `${route.baseUrl}/model/${encodeModel(route.model)}/${action}`;
  const out = copyHeaders(headers, BEDROCK_DROP);
  out["content-type"] = "application/json";
  out["accept"] = stream ? "application/vnd.amazon.eventstream" : "application/json";
  for (const [k, v] of authHeaders(wire, credential)) out[k] = v;
  return { url, headers: out, body: JSON.stringify(data) };
}

/** Python's `quote(model, safe=":;")`: unreserved characters, `:` and `;` kept. */
function encodeModel(model: string): string {
  return encodeURIComponent(model).replace(/%3A/gi, ":").replace(/%3B/gi, ";")
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An error answer in the family's own shape, so its SDK raises its own exception. */
export function errorBody(family: string | null, status: number, message: string): string {
  const kind = status === 400 ? "invalid_request_error" : status === 404 ? "not_found_error" : "api_error";
  if (family === "anthropic") {
    return JSON.stringify({ type: "error", error: { type: kind, message } });
  }
  const code = status === 404 ? "model_not_found" : kind;
  return JSON.stringify({ error: { message, type: "invalid_request_error", param: "model", code } });
}
