/**
 * aigw's `fetch`: what the official SDKs take as their `fetch` option.
 *
 * A request addressed to aigw (to `AIGW_BASE_URL`, or to an SDK's default base
 * URL) names its alias in the JSON body's `model`, a multipart form's `model`
 * field, or the `x-aigw-alias` header. It is sent route by route as the plan in
 * core.ts decides, with the route's URL, model, `extra` and auth (wire.ts).
 * What the caller gets is the deciding route's response: 2xx, a 4xx that
 * blames the request, or, when every route failed, the last HTTP answer; when
 * no route answered at all, the fetch rejects as a network failure does (the
 * SDK raises its connection or timeout error). Any other URL (the openai SDK's
 * `data:,` probe...) goes to the inner fetch untouched.
 */
import { performance } from "node:perf_hooks";

import type { AigwClient } from "./client.js";
import type { Decision, Plan, Result } from "./core.js";
import { AllRoutesFailed, ATTEMPTS, type Attempt, NoRouteAnswered,
  UnknownAlias, WrongFamily } from "./errors.js";
import type { AwsCredentials } from "./keys.js";
import type { RouteState } from "./router.js";
import { BadResponse, EVENTSTREAM, peek, replay } from "./streaming.js";
import type { CallSpan } from "./telemetry.js";
import { StreamTap } from "./usage.js";
import { withModel } from "./multipart.js";
import { type Call, callOf, parsed, pathOf, plain, readBody, Reject } from "./request.js";
import { BadRequest, errorBody, isBedrock, prepare } from "./wire.js";

/** Attempts that never reached a provider. */
const SKIPPED = new Set(["no_key", "unsupported_api", "wrong_family", "no_signer"]);
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH",
  "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT"]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);
/** Statuses whose Response may not have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

class AttemptTimeout extends Error {
  override name = "TimeoutError";
}

/** The attempt outcome of a send that threw `exc`, or null when it is not the route's fault. */
function outcomeOf(exc: unknown, timedOut: boolean): string | null {
  if (timedOut) return "timeout";
  if (exc instanceof BadResponse) return "bad_response";
  const e = exc as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e?.name === "TimeoutError") return "timeout";
  const code = e?.cause?.code ?? e?.code;
  if (code && TIMEOUT_CODES.has(code)) return "timeout";
  if (code && CONNECT_CODES.has(code)) return "connect_error";
  if (e?.cause?.name === "ConnectTimeoutError") return "timeout";
  if (exc instanceof TypeError) return "transport_error";
  return null;
}

function withAttempts(resp: Response, attempts: Attempt[]): Response {
  ATTEMPTS.set(resp, attempts);
  return resp;
}

/** The fetch of one client; `family` set by the SDK helpers (null: any family). */
export class FailoverFetch {
  constructor(readonly client: AigwClient, readonly family: string | null) {}

  /** The `fetch` function: `(input, init) => Promise<Response>`. */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = typeof input === "object" && "url" in input && !(input instanceof URL) ? input : null;
    const url = request ? request.url : String(input);
    const path = pathOf(url);
    if (path === null) return this.client.innerFetch(input, init);
    let call: Call;
    try {
      call = request === null && plain(init) ? callOf(path, init) : callOf(path, await readBody(init, request));
      return await this.send(call);
    } catch (exc) {
      if (exc instanceof Reject) return this.reject(exc.status, exc.message);
      if (exc instanceof UnknownAlias) return this.reject(404, `aigw: ${exc.message}`);
      if (exc instanceof WrongFamily) return this.reject(400, `aigw: ${exc.message}`);
      throw exc;
    }
  };

  /**
   * The direct API: send `path` with `init` to its alias's routes; UnknownAlias and
   * WrongFamily are thrown, not answered (the SDKs get them as 404/400 answers).
   */
  async direct(path: string, init: RequestInit): Promise<Response> {
    return this.send(callOf(path, init));
  }

  reject(status: number, message: string): Response {
    return new Response(errorBody(this.family, status, message),
                        { status, headers: { "content-type": "application/json" } });
  }

  /** Send `call` with failover. */
  async send(call: Call): Promise<Response> {
    const client = this.client;
    const router = client.router(call.alias, this.family);
    const span = client.telemetry.start(call.alias, call.operation);
    const run: Plan = client.plan(router, call.sessionId, span);
    let last: Response | null = null;
    let step: IteratorResult<[RouteState, unknown], Decision>;
    try {
      step = run.next();
      while (!step.done) {
        const [rs, credential] = step.value;
        let result: Result;
        try {
          result = await this.attempt(call, rs, credential, span);
        } catch (exc) {
          if (exc instanceof BadRequest) {
            run.return(undefined as never);
            span.finish(rs, "bad_request");
            return this.reject(400, `aigw: ${exc.message}`);
          }
          run.return(undefined as never);
          span.finish(null, "error");
          throw exc;
        }
        if (result.value instanceof Response) last = result.value;
        step = run.next(result);
      }
    } catch (exc) {
      if (!(exc instanceof AllRoutesFailed)) throw exc;
      span.finish(null, "all_routes_failed");
      if (last !== null) return withAttempts(labelled(last, exc.attempts), exc.attempts);
      const tried = exc.attempts.filter((a) => !SKIPPED.has(a.outcome)).map((a) => a.outcome);
      throw new NoRouteAnswered(call.alias, exc.attempts,
                                tried.length > 0 && tried.every((o) => o === "timeout"));
    }
    const { route, value, attempts } = step.value;
    const resp = value as Response;
    const streaming = resp.body !== null && STREAMING.has(resp);
    if (!streaming) {
      const outcome = attempts[attempts.length - 1]!.outcome;
      const ok = outcome === "ok";
      if (ok && span.metered && !USAGE.has(resp) && resp.body !== null && isJson(resp)) {
        tapBody(resp, span.usageLater(route));
      }
      span.finish(route, outcome, ok ? USAGE.get(resp) : undefined);
    }
    return withAttempts(labelled(resp, attempts), attempts);
  }

  /** One send to one route: the Result the plan gets. Throws for a caller's abort or a bug. */
  private async attempt(call: Call, rs: RouteState, credential: unknown, span: CallSpan): Promise<Result> {
    const wire = rs.wire!;
    let raw = call.raw;
    if (call.form !== null) raw = withModel(raw as Uint8Array, call.form, rs.route.model);
    let out;
    if (call.lead !== null && wire.needsBaseUrl && !hasKeys(rs.route.extra)) {
      out = prepare(rs.route, wire, call.method, call.path, null,
                    `{"model":${JSON.stringify(rs.route.model)}${call.lead}`, false, call.headers, credential);
    } else {
      const c = parsed(call);
      out = prepare(rs.route, wire, c.method, c.path, c.body, c.body === null ? raw : undefined, c.stream,
                    c.headers, credential);
    }
    if (wire.auth === "sigv4") {
      await this.client.sigv4()!(out.url, out.headers, out.body as string,
                                 credential as AwsCredentials, rs.route.awsRegion);
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new AttemptTimeout(`aigw: ${rs.route.provider} timed out`));
    }, rs.route.timeout * 1000);
    const caller = call.signal;
    const onAbort = (): void => controller.abort(caller!.reason);
    if (caller) {
      if (caller.aborted) controller.abort(caller.reason);
      else caller.addEventListener("abort", onAbort, { once: true });
    }
    const t0 = performance.now();
    const seconds = (): number => (performance.now() - t0) / 1000;
    let keepListening = false;
    try {
      const resp = await this.client.innerFetch(out.url, {
        method: call.method, headers: out.headers, body: out.body as BodyInit | undefined,
        signal: controller.signal,
      });
      const status = resp.status;
      const ctype = resp.headers.get("content-type") ?? "";
      const convert = isBedrock(wire) && ctype.includes(EVENTSTREAM);
      if (call.stream && status < 400 && resp.body && (convert || ctype.includes("text/event-stream"))) {
        const reader = resp.body.getReader();
        let peeked;
        try {
          peeked = await peek(reader, convert);
        } catch (exc) {
          reader.cancel().catch(() => {});
          throw exc;
        }
        const headers = responseHeaders(resp.headers);
        if (convert) headers.set("content-type", "text/event-stream");
        if (span.metered || span.recording) span.tap = new StreamTap();
        const stream = replay(peeked[0], reader, peeked[1], span.tap, (outcome) => {
          span.finish(rs, outcome);
          if (caller) caller.removeEventListener("abort", onAbort);
        });
        keepListening = true; // the caller's abort still cancels the stream
        const handed = new Response(stream, { status, statusText: resp.statusText, headers });
        STREAMING.add(handed);
        OWN.add(handed);
        return { status, value: handed, outcome: status < 400 ? "ok" : `http_${status}`, latency: seconds() };
      }
      if (status < 300) {
        // A 2xx goes to the caller as it came: its body unread, so no copy.
        if (span.recording) USAGE.set(resp, await usageOf(resp));
        return { status, value: resp, outcome: "ok", latency: seconds() };
      }
      const body = new Uint8Array(await resp.arrayBuffer());
      const handed = new Response(NULL_BODY.has(status) ? null : body,
                                  { status, statusText: resp.statusText, headers: responseHeaders(resp.headers) });
      OWN.add(handed);
      return { status, value: handed, outcome: status < 400 ? "ok" : `http_${status}`, latency: seconds() };
    } catch (exc) {
      if (caller?.aborted) throw exc; // the caller gave up: not the route's fault
      const outcome = outcomeOf(exc, timedOut);
      if (outcome === null) throw exc;
      return { status: null, value: null, outcome, latency: seconds() };
    } finally {
      clearTimeout(timer);
      if (caller && !keepListening) caller.removeEventListener("abort", onAbort);
    }
  }
}

function hasKeys(obj: object): boolean {
  for (const _ in obj) return true;
  return false;
}

const STREAMING = new WeakSet<Response>();
/** Responses aigw built itself (their headers are mutable). */
const OWN = new WeakSet<Response>();

/**
 * Hand the answer's JSON to `sink` when the caller reads it (`json()`: the Anthropic
 * SDK; `text()`: the openai SDK), untouched: metrics parse it later, off the request
 * path. Reading the body here (a clone's tee: +28 µs a call; a copy: +20) would cost
 * the caller; these two own properties cost nothing measurable. A body read otherwise
 * (a stream reader, `arrayBuffer()`) is timed but not counted.
 */
function tapBody(resp: Response, sink: (body: unknown) => void): void {
  const { json, text } = resp; // its own class's (an inner fetch may return another Response class)
  const give = (value: unknown): unknown => {
    try {
      sink(value);
    } catch { /* metrics never fail a call */ }
    return value;
  };
  Object.defineProperties(resp, {
    json: { value: function (this: Response) { return json.call(this).then(give); }, configurable: true, writable: true },
    text: { value: function (this: Response) { return text.call(this).then(give); }, configurable: true, writable: true },
  });
}
const USAGE = new WeakMap<Response, unknown>();

function isJson(resp: Response): boolean {
  return (resp.headers.get("content-type") ?? "").includes("json");
}

/** The usage fields of a 2xx JSON answer, read from a clone (spans only). */
async function usageOf(resp: Response): Promise<unknown> {
  if (!isJson(resp)) return undefined;
  try {
    return await resp.clone().json();
  } catch {
    return undefined;
  }
}

/** The provider's headers, without those that described the bytes as sent on the wire. */
function responseHeaders(from: Headers): Headers {
  const out = new Headers(from);
  out.delete("content-encoding");
  out.delete("content-length");
  out.delete("transfer-encoding");
  return out;
}

/**
 * `resp` with the call's attempts in its `x-aigw-attempts` header (never a key
 * value), when aigw made it (an error answer it read, a stream it re-framed): an
 * SDK error keeps the headers, not the Response. A 2xx passed through as it came
 * keeps its own headers (immutable); `attemptsOf(response)` finds its attempts.
 */
function labelled(resp: Response, attempts: Attempt[]): Response {
  if (OWN.has(resp)) {
    resp.headers.set("x-aigw-attempts", JSON.stringify(attempts.map((a) => [a.provider, a.slot, a.outcome])));
  }
  return resp;
}
