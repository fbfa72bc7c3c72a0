/**
 * Reading a request an SDK hands aigw's fetch (spec/README.md R3): which URLs are
 * aigw's, the alias (the JSON body's `model`, a multipart form's `model` field, or
 * `x-aigw-alias`), the session, whether it streams. Pure but for reading bodies
 * that are not already a string or bytes.
 */
import { ClientError } from "./errors.js";
import { type ModelField, modelField } from "./multipart.js";
import type { JsonObject } from "./wire.js";

/** The base URL the SDK helpers give the SDKs. */
export const AIGW_BASE_URL = "http://aigw.invalid";
/** Bases aigw answers for: its own, and the SDKs' defaults (a client built without baseURL). */
const BASES = [AIGW_BASE_URL, "https://api.openai.com/v1", "https://api.anthropic.com"];
const OPERATIONS: Record<string, string> = { completions: "chat", messages: "chat",
  responses: "responses", embeddings: "embeddings" };
/** One request addressed to a model alias. */
export interface Call {
  alias: string;
  method: string;
  path: string;
  /** The JSON object body, or null (see `lead`). */
  body: JsonObject | null;
  /**
   * A JSON body that opens with its model, as the SDKs write `{model, ...}`: what
   * follows the alias (`,"messages":[...]}`); the body is then parsed only when a
   * route needs it (`extra`, Bedrock). Null otherwise.
   */
  lead: string | null;
  /** The body as sent when it is not a JSON object (a form, a list, bytes). */
  raw: string | Uint8Array | undefined;
  /** A multipart body's `model` field (R3): the route's model is written there. */
  form: ModelField | null;
  headers: Headers;
  stream: boolean;
  sessionId: string | null;
  operation: string;
  signal: AbortSignal | null;
}

/** A request aigw answers itself, without calling a provider. */
export class Reject extends ClientError {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function pathOf(url: string): string | null {
  for (const base of BASES) {
    if (url.startsWith(base) && (url.length === base.length || "/?".includes(url[base.length]!))) {
      return url.slice(base.length) || "/";
    }
  }
  return null;
}

const operations = new Map<string, string>();

function operationOf(path: string): string {
  let op = operations.get(path);
  if (op === undefined) {
    op = operationFrom(path);
    if (operations.size < 4096) operations.set(path, op);
  }
  return op;
}

function operationFrom(path: string): string {
  const tail = path.split("?", 1)[0]!.replace(/\/+$/, "").split("/").pop() ?? "";
  return OPERATIONS[tail] ?? (tail || "request");
}

/** A multipart FormData as the bytes fetch would send, with its content type. */
async function formBytes(form: FormData): Promise<[Uint8Array, string]> {
  const req = new Request(AIGW_BASE_URL, { method: "POST", body: form });
  return [new Uint8Array(await req.arrayBuffer()), req.headers.get("content-type")!];
}

/**
 * The body and headers of a request whose body is not a string or bytes (a Request,
 * a FormData, a stream), read into bytes first.
 */
export async function readBody(init: RequestInit | undefined, request: Request | null): Promise<RequestInit> {
  const given = request ? request.headers : init?.headers;
  let headers = given instanceof Headers ? given : new Headers(given);
  const method = (request?.method ?? init?.method ?? "GET").toUpperCase();
  let raw: unknown = init?.body;
  if (request && method !== "GET" && method !== "HEAD") {
    raw = new Uint8Array(await request.arrayBuffer());
  } else if (raw instanceof FormData) {
    // As bytes (R3: every byte but the model field's goes as it came).
    const [bytes, ctype] = await formBytes(raw);
    raw = bytes;
    headers = new Headers(headers);
    headers.set("content-type", ctype);
  } else if (raw !== undefined && raw !== null) {
    raw = new Uint8Array(await new Response(raw as BodyInit).arrayBuffer());
  }
  return { method, headers, body: raw as BodyInit, signal: request?.signal ?? init?.signal ?? null };
}

/** True when `init` can be read as it is (what the SDKs send: a JSON string or nothing). */
export function plain(init: RequestInit | undefined): boolean {
  const body = init?.body;
  return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
}

/**
 * The alias and what follows it in a JSON body that opens with `{"model":"<alias>"`
 * (the SDKs write the caller's `{model, ...}` in order), so the common call needs no
 * parse: the route's model is written in front of the same tail. Null when the body
 * is shaped otherwise, or names a `stream` (its value decides how the answer is
 * read): then it is parsed.
 */
function leadingModel(text: string): [alias: string, tail: string] | null {
  if (!text.startsWith('{"model":"')) return null;
  const end = text.indexOf('"', 10);
  if (end < 0) return null;
  const next = text.charCodeAt(end + 1);
  if ((next !== 44 && next !== 125) || text.includes('"stream"')) return null; // "," or "}"
  const alias = text.slice(10, end);
  return alias && !alias.includes("\\") ? [alias, text.slice(end + 1)] : null;
}

/** `call` with its body parsed, once (a `lead` call whose route needs the object). */
export function parsed(call: Call): Call {
  if (call.lead === null) return call;
  call.body = JSON.parse(call.raw as string) as JsonObject;
  call.lead = null;
  call.raw = undefined;
  return call;
}

export function callOf(path: string, init: RequestInit | undefined): Call {
  const given = init?.headers;
  // The SDKs pass a Headers object: used as is (aigw never changes it).
  const headers = given instanceof Headers ? given : new Headers(given);
  const method = (init?.method ?? "GET").toUpperCase();
  let raw = init?.body as string | Uint8Array | undefined;
  let alias = headers.get("x-aigw-alias");
  const session = headers.get("x-aigw-session");
  let body: JsonObject | null = null;
  let form: ModelField | null = null;
  const ctype = headers.get("content-type") ?? "application/json";
  const leading = typeof raw === "string" && ctype.startsWith("application/json") ? leadingModel(raw) : null;
  if (leading !== null) {
    return { alias: alias || leading[0], method, path, body: null, lead: leading[1], raw, form, headers,
             stream: false, sessionId: session, operation: operationOf(path), signal: init?.signal ?? null };
  }
  if (raw !== undefined && raw !== null && (raw as string) !== "" && ctype.startsWith("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw as Uint8Array));
    } catch {
      throw new Reject(400, "aigw: the request body is not valid JSON");
    }
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) body = parsed as JsonObject;
  } else if (raw && ctype.startsWith("multipart/form-data")) {
    const bytes = typeof raw === "string" ? new TextEncoder().encode(raw) : raw as Uint8Array;
    form = modelField(bytes, ctype);
    if (form !== null) {
      raw = bytes;
      if (!alias) alias = form.value;
    }
  }
  if (!alias && body && typeof body["model"] === "string") alias = body["model"];
  if (!alias) {
    throw new Reject(400, "aigw: the request names no model alias (pass the alias as `model`, " +
                          "or send the x-aigw-alias header)");
  }
  return { alias, method, path, body, lead: null, raw: body === null ? raw ?? undefined : undefined, form, headers,
           stream: body?.["stream"] === true, sessionId: session, operation: operationOf(path),
           signal: init?.signal ?? null };
}
