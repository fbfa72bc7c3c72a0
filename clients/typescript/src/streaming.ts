/**
 * Streams: failover until the first event, then hand the bytes through unchanged.
 *
 * `FirstEvent` reads a streaming answer up to its first complete event (an
 * OpenAI or Anthropic SSE event, or a Bedrock event-stream frame converted to
 * Anthropic SSE). Until then the fetch may still try another route; after it,
 * `replay` yields what was read and passes the rest through (fed to a `StreamTap`
 * when metrics are on, which keeps the events that carry usage).
 */
import { EventStreamDecoder, EventStreamError, frameToSse } from "./eventstream.js";
import { StreamInterrupted } from "./errors.js";
import type { StreamTap } from "./usage.js";

/** A 2xx streaming answer that failed before its first event. */
export class BadResponse extends Error {
  override name = "BadResponse";
}

export const EVENTSTREAM = "application/vnd.amazon.eventstream";
const utf8 = new TextDecoder();

/** True for a data event, null for a block without data; throws for an error event. */
function firstEventOk(block: string): boolean | null {
  let event = "";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trim());
  }
  if (!data.length) return null;
  const text = data.join("\n");
  if (text === "[DONE]") throw new BadResponse("stream ended before its first event");
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new BadResponse("first stream event is not JSON");
  }
  const o = obj as Record<string, unknown> | null;
  if (event === "error" || (typeof o === "object" && o !== null &&
      (o["type"] === "error" || (o["error"] && !("choices" in o))))) {
    throw new BadResponse("stream opened with an error event");
  }
  return true;
}

/** Bedrock event-stream bytes in, Anthropic SSE bytes out. */
export class EventStreamToSSE {
  private decoder = new EventStreamDecoder();
  started = false;

  feed(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    try {
      for (const frame of this.decoder.feed(chunk)) {
        const [sse, isError] = frameToSse(frame);
        if (isError && !this.started) throw new BadResponse("Bedrock stream opened with an exception");
        if (sse.length) {
          this.started = true;
          out.push(sse);
        }
      }
    } catch (exc) {
      if (exc instanceof EventStreamError && !this.started) throw new BadResponse(exc.message);
      throw exc;
    }
    return Buffer.concat(out);
  }

  finish(): void {
    if (this.decoder.pending) throw new EventStreamError("stream ended inside a frame");
  }
}

/** Sans-I/O: the chunks of a stream up to its first event. */
export class FirstEvent {
  readonly head: Uint8Array[] = [];
  readonly conv: EventStreamToSSE | null;
  private buf = "";

  constructor(convert: boolean) {
    this.conv = convert ? new EventStreamToSSE() : null;
  }

  /** True once the first event is in; throws BadResponse for a failed start. */
  feed(chunk: Uint8Array): boolean {
    if (this.conv) {
      const sse = this.conv.feed(chunk);
      if (sse.length) this.head.push(sse);
      return this.conv.started;
    }
    this.head.push(chunk);
    this.buf += utf8.decode(chunk, { stream: true });
    for (;;) {
      this.buf = this.buf.replace(/\r\n/g, "\n");
      const end = this.buf.indexOf("\n\n");
      if (end < 0) return false;
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      if (firstEventOk(block)) return true;
    }
  }
}

/**
 * Read `reader` up to the first event: [chunks read, converter]. Throws BadResponse
 * when the stream fails or ends before it.
 */
export async function peek(reader: ReadableStreamDefaultReader<Uint8Array>,
                           convert: boolean): Promise<[Uint8Array[], EventStreamToSSE | null]> {
  const first = new FirstEvent(convert);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new BadResponse("stream ended before its first event");
    if (first.feed(value)) return [first.head, first.conv];
  }
}

/** The stream handed to the caller: the peeked chunks, then the rest as it comes. */
export function replay(head: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>,
                       conv: EventStreamToSSE | null, tap: StreamTap | null,
                       onEnd: (outcome: string) => void): ReadableStream<Uint8Array> {
  let ended = false;
  const end = (outcome: string): void => {
    if (!ended) {
      ended = true;
      onEnd(outcome);
    }
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of head) {
        tap?.feed(chunk);
        controller.enqueue(chunk);
      }
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          conv?.finish();
          end("ok");
          controller.close();
          return;
        }
        const out = conv ? conv.feed(value) : value;
        if (out.length) {
          tap?.feed(out);
          controller.enqueue(out);
        }
      } catch (exc) {
        end("stream_interrupted");
        controller.error(new StreamInterrupted(
          `the stream broke after its first event (${(exc as Error)?.name ?? "error"})`));
      }
    },
    cancel(reason) {
      end("closed");
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
