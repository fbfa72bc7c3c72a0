/**
 * AWS event-stream frames (Bedrock invoke-with-response-stream) as Anthropic SSE bytes.
 *
 * A frame is `total length (4) | headers length (4) | prelude CRC32 (4) | headers |
 * payload | message CRC32 (4)`, big-endian. Bedrock sends `:message-type: event`
 * frames whose payload is `{"bytes": base64(<one Messages stream event JSON>)}`,
 * and `:message-type: exception` frames on errors. Each event becomes the SSE
 * `event: <type>\ndata: <json>\n\n` api.anthropic.com would have sent.
 */

export class EventStreamError extends Error {
  override name = "EventStreamError";
}

const MAX_FRAME = 16 * 1024 * 1024;
/** Header value types with a fixed size (type id -> bytes); 6 and 7 carry a length. */
const FIXED: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface Frame {
  headers: Record<string, string>;
  payload: Uint8Array;
}

const utf8 = new TextDecoder();

function parseHeaders(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let i = 0;
  while (i < data.length) {
    const n = data[i]!;
    const name = utf8.decode(data.subarray(i + 1, i + 1 + n));
    i += 1 + n;
    const kind = data[i]!;
    i += 1;
    if (kind === 6 || kind === 7) {
      const size = view.getUint16(i);
      const value = data.subarray(i + 2, i + 2 + size);
      i += 2 + size;
      out[name] = kind === 7 ? utf8.decode(value) : Buffer.from(value).toString("hex");
    } else if (kind in FIXED) {
      i += FIXED[kind]!;
    } else {
      throw new EventStreamError(`unknown header type ${kind}`);
    }
  }
  return out;
}

/** Incremental decoder: `feed` bytes, get the frames completed so far (CRCs checked). */
export class EventStreamDecoder {
  private buf = new Uint8Array(0);

  feed(data: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.buf.length + data.length);
    joined.set(this.buf);
    joined.set(data, this.buf.length);
    let buf = joined;
    const frames: Frame[] = [];
    while (buf.length >= 12) {
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const total = view.getUint32(0);
      const hlen = view.getUint32(4);
      if (total < 16 || total > MAX_FRAME || hlen > total - 16) throw new EventStreamError("bad frame length");
      if (crc32(buf.subarray(0, 8)) !== view.getUint32(8)) throw new EventStreamError("bad prelude checksum");
      if (buf.length < total) break;
      if (crc32(buf.subarray(0, total - 4)) !== view.getUint32(total - 4)) {
        throw new EventStreamError("bad message checksum");
      }
      frames.push({ headers: parseHeaders(buf.subarray(12, 12 + hlen)),
                    payload: buf.slice(12 + hlen, total - 4) });
      buf = buf.subarray(total);
    }
    this.buf = buf.slice();
    return frames;
  }

  /** Bytes of an incomplete frame still buffered. */
  get pending(): number {
    return this.buf.length;
  }
}

const enc = new TextEncoder();

/** The SSE bytes of one frame, and whether it reports an error. */
export function frameToSse(frame: Frame): [Uint8Array, boolean] {
  const kind = frame.headers[":message-type"] ?? "event";
  if (kind !== "event") {
    const type = frame.headers[":exception-type"] || frame.headers[":error-code"] || "api_error";
    let message: string;
    try {
      message = String(JSON.parse(utf8.decode(frame.payload)).message ?? "");
    } catch {
      message = utf8.decode(frame.payload).slice(0, 500);
    }
    const data = JSON.stringify({ type: "error", error: { type, message } });
    return [enc.encode(`event: error\ndata: ${data}\n\n`), true];
  }
  if ((frame.headers[":event-type"] ?? "chunk") !== "chunk") return [new Uint8Array(0), false];
  let raw: string;
  let event: unknown;
  try {
    raw = Buffer.from(JSON.parse(utf8.decode(frame.payload)).bytes, "base64").toString("utf8");
    event = JSON.parse(raw);
  } catch (exc) {
    throw new EventStreamError(`chunk is not a base64 JSON event (${(exc as Error).name})`);
  }
  const name = typeof event === "object" && event !== null ? (event as { type?: unknown }).type : undefined;
  if (typeof name !== "string") return [new Uint8Array(0), false];
  if (raw.includes("\n") || raw.includes("\r")) raw = JSON.stringify(event);
  return [enc.encode(`event: ${name}\ndata: ${raw}\n\n`), name === "error"];
}

/** Build one frame (tests and stand-ins): string headers and a payload. */
export function encodeFrame(headers: Record<string, string>, payload: Uint8Array): Uint8Array {
  const hs: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = enc.encode(name);
    const v = enc.encode(value);
    hs.push(n.length, ...n, 7, (v.length >> 8) & 0xff, v.length & 0xff, ...v);
  }
  const total = 12 + hs.length + payload.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, hs.length);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  out.set(hs, 12);
  out.set(payload, 12 + hs.length);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}
