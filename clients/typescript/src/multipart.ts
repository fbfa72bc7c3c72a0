/**
 * The model alias of a `multipart/form-data` request (spec/README.md, rule R3).
 *
 * The openai SDK sends transcriptions, translations and image edits as a form
 * whose `model` field names the model: the alias is read there, and the route's
 * model is written back into that field; every other byte of the form goes
 * upstream as it came. Pure: no I/O.
 */

const DISPOSITION = /^content-disposition:[ \t]*form-data[ \t]*;(.*)$/im;
const PARAM = /([a-z*]+)[ \t]*=[ \t]*("[^"]*"|[^;\s]*)/gi;

/** The form's `model` field: its value and where it sits in the body. */
export interface ModelField {
  value: string;
  start: number;
  end: number;
}

function params(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(PARAM)) out.set(m[1]!.toLowerCase(), m[2]!.replace(/^"|"$/g, ""));
  return out;
}

/** The boundary parameter of a multipart content type, null when it has none. */
export function boundary(contentType: string): string | null {
  const semi = contentType.indexOf(";");
  if (semi < 0) return null;
  return params(contentType.slice(semi + 1)).get("boundary") || null;
}

function isModel(partHeaders: string): boolean {
  const found = DISPOSITION.exec(partHeaders);
  if (!found) return false;
  const p = params(found[1]!);
  return p.get("name") === "model" && !p.has("filename");
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle, from);
}

/** The form's `model` field (value and offsets), null when absent. */
export function modelField(body: Uint8Array, contentType: string): ModelField | null {
  const sep = boundary(contentType);
  if (sep === null) return null;
  const delimiter = enc.encode(`--${sep}`);
  const next = enc.encode(`\r\n--${sep}`);
  const blank = enc.encode("\r\n\r\n");
  let pos = indexOf(body, delimiter, 0);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) return null; // the closing delimiter
    const headEnd = indexOf(body, blank, start);
    if (headEnd < 0) return null;
    const valueStart = headEnd + 4;
    const end = indexOf(body, next, valueStart);
    if (end < 0) return null;
    if (isModel(latin1.decode(body.subarray(start, headEnd)))) {
      try {
        return { value: utf8.decode(body.subarray(valueStart, end)), start: valueStart, end };
      } catch {
        return null;
      }
    }
    pos = end + 2;
  }
  return null;
}

/** `body` with the `model` field's value replaced by `model`. */
export function withModel(body: Uint8Array, field: ModelField, model: string): Uint8Array {
  return Buffer.concat([body.subarray(0, field.start), enc.encode(model), body.subarray(field.end)]);
}
