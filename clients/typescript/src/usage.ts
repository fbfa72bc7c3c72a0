/**
 * Token usage as providers report it, in aigw's disjoint billed classes
 * (spec/metrics.md; the Python client's client/usage.py). Sans-I/O.
 *
 * - `input`: input tokens neither read from nor written to a cache;
 * - `cache_read`: input tokens served from the provider's prompt cache;
 * - `cache_write`: input tokens written to the cache (Anthropic's cache creation);
 * - `output`: output tokens that are not reasoning tokens;
 * - `reasoning`: reasoning (thinking) tokens the provider reports apart.
 *
 * Shapes read: OpenAI Chat Completions, the Responses API, DeepSeek's
 * `prompt_cache_hit_tokens`, Anthropic Messages (also as Bedrock returns it).
 * Streams: the OpenAI chunk with `usage`, the Responses `response.completed`
 * event, Anthropic's `message_start` plus `message_delta`.
 */

export const CLASSES = ["input", "cache_read", "cache_write", "output", "reasoning"] as const;
export type TokenClass = (typeof CLASSES)[number];
export type Tokens = Record<TokenClass, number>;

type Obj = Record<string, unknown>;

function int(value: unknown): number {
  return Number.isInteger(value) && (value as number) > 0 ? value as number : 0;
}

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The disjoint token classes of one `usage` object, or null if it holds no counts. */
export function tokensOf(usage: unknown, family = "openai"): Tokens | null {
  if (!isObj(usage)) return null;
  if (family === "anthropic" || "cache_read_input_tokens" in usage || "cache_creation_input_tokens" in usage) {
    if (!("input_tokens" in usage) && !("output_tokens" in usage)) return null;
    return { input: int(usage["input_tokens"]), cache_read: int(usage["cache_read_input_tokens"]),
             cache_write: int(usage["cache_creation_input_tokens"]), output: int(usage["output_tokens"]),
             reasoning: 0 };
  }
  let totalIn: number, totalOut: number, inDetails: unknown, outDetails: unknown;
  if ("prompt_tokens" in usage || "completion_tokens" in usage) {
    totalIn = int(usage["prompt_tokens"]);
    totalOut = int(usage["completion_tokens"]);
    inDetails = usage["prompt_tokens_details"];
    outDetails = usage["completion_tokens_details"];
  } else if ("input_tokens" in usage || "output_tokens" in usage) { // the Responses API
    totalIn = int(usage["input_tokens"]);
    totalOut = int(usage["output_tokens"]);
    inDetails = usage["input_tokens_details"];
    outDetails = usage["output_tokens_details"];
  } else {
    return null;
  }
  const inD = isObj(inDetails) ? inDetails : {};
  const outD = isObj(outDetails) ? outDetails : {};
  let cacheRead = int(inD["cached_tokens"]) || int(usage["prompt_cache_hit_tokens"]);
  cacheRead = Math.min(cacheRead, totalIn);
  const cacheWrite = Math.min(int(inD["cache_write_tokens"]), totalIn - cacheRead);
  const reasoning = Math.min(int(outD["reasoning_tokens"]), totalOut);
  return { input: totalIn - cacheRead - cacheWrite, cache_read: cacheRead, cache_write: cacheWrite,
           output: totalOut - reasoning, reasoning };
}

/** Input tokens as the conventions count them (cached ones included). */
export function inputTotal(t: Tokens): number {
  return t.input + t.cache_read + t.cache_write;
}

/** Output tokens as the conventions count them (reasoning included). */
export function outputTotal(t: Tokens): number {
  return t.output + t.reasoning;
}

/** [token classes, response model] of a parsed JSON answer. */
export function fromBody(doc: unknown, family: string): [Tokens | null, string | null] {
  if (!isObj(doc)) return [null, null];
  const model = typeof doc["model"] === "string" ? doc["model"] : null;
  return [tokensOf(doc["usage"], family), model];
}

const utf8 = new TextDecoder();

/** [token classes, response model] from the SSE events of a stream that mention usage. */
export function fromEvents(blocks: readonly Uint8Array[], family: string): [Tokens | null, string | null] {
  const merged: Obj = {};
  let found = false;
  let model: string | null = null;
  for (const block of blocks) {
    for (const line of utf8.decode(block).split(/\r?\n/)) {
      if (!line.startsWith("data:")) continue;
      let doc: unknown;
      try {
        doc = JSON.parse(line.slice(5));
      } catch {
        continue;
      }
      if (!isObj(doc)) continue;
      const inner = doc["message"] ?? doc["response"]; // Anthropic, Responses
      const holder = isObj(inner) ? inner : doc;
      if (typeof holder["model"] === "string") model = holder["model"];
      const usage = holder["usage"];
      if (isObj(usage)) {
        // Anthropic's message_delta carries the final (cumulative) counts.
        for (const [k, v] of Object.entries(usage)) {
          if (v !== null && v !== undefined) merged[k] = v;
        }
        found = true;
      }
    }
  }
  return [found ? tokensOf(merged, family) : null, model];
}

const USAGE = Buffer.from('"usage"');
const SEP = Buffer.from("\n\n");
const KEEP = 4;

/**
 * Keeps the SSE events of a stream that carry `usage` (fed on the request path:
 * per chunk one native byte search; an event split across chunks is joined first).
 * At most 4 blocks are kept: the first (Anthropic's message_start) and the latest.
 */
export class StreamTap {
  readonly blocks: Uint8Array[] = [];
  private tail: Buffer | null = null;

  feed(chunk: Uint8Array): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.tail !== null) data = Buffer.concat([this.tail, data]);
    const end = data.lastIndexOf(SEP);
    if (end < 0) {
      this.tail = Buffer.from(data.subarray(Math.max(0, data.length - 65536)));
      return;
    }
    this.tail = end + 2 < data.length ? Buffer.from(data.subarray(end + 2)) : null;
    const head = data.subarray(0, end);
    if (head.indexOf(USAGE) >= 0) {
      if (this.blocks.length >= KEEP) this.blocks.splice(1, 1);
      this.blocks.push(Buffer.from(head)); // a copy: the caller owns the chunk
    }
  }
}
