/**
 * What a call cost: tokens by billed class (usage.ts) times the route's price.
 * No price, no cost (spec/metrics.md; the Python client's client/cost.py).
 *
 * A price is the route's `price` in aigw-client.json: `{"currency", "as_of",
 * "per_million": {class: "decimal string"}}`, rendered from the catalog. The
 * arithmetic is exact decimal (a bigint and a scale), so a cost is the same
 * digits the Python client computes; the counter receives it as a number.
 * Reasoning tokens are billed as output unless the price names `reasoning`;
 * any other class with tokens but no price makes the cost unknown (null).
 */
import type { Tokens, TokenClass } from "./usage.js";

/** An exact decimal: `n / 10 ** s`. */
export interface Dec {
  readonly n: bigint;
  readonly s: number;
}

export const ZERO: Dec = { n: 0n, s: 0 };
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A decimal string (or a JSON number) as a `Dec`, or null when it is not one. */
export function parseDec(value: unknown): Dec | null {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value)
    : typeof value === "string" ? value.trim() : null;
  const m = text === null ? null : DECIMAL.exec(text);
  if (m === null || (!m[2] && !m[3])) return null;
  const frac = m[3] ?? "";
  let n = BigInt((m[2] || "0") + frac);
  let s = frac.length - Number(m[4] ?? 0);
  if (s < 0) {
    n *= 10n ** BigInt(-s);
    s = 0;
  }
  return { n: m[1] === "-" ? -n : n, s };
}

function scaled(a: Dec, s: number): bigint {
  return a.n * 10n ** BigInt(s - a.s);
}

export function addDec(a: Dec, b: Dec): Dec {
  const s = Math.max(a.s, b.s);
  return { n: scaled(a, s) + scaled(b, s), s };
}

/** The shortest decimal string of `a` ("0.0075", "2.8", "0"). */
export function decString(a: Dec): string {
  let { n, s } = a;
  while (s > 0 && n % 10n === 0n) {
    n /= 10n;
    s--;
  }
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString();
  if (s > 0) {
    digits = digits.padStart(s + 1, "0");
    digits = `${digits.slice(0, digits.length - s)}.${digits.slice(digits.length - s)}`;
  }
  return neg ? `-${digits}` : digits;
}

export function decNumber(a: Dec): number {
  return Number(decString(a));
}

/** Per-million-token prices of one model, by billed class, in `currency`. */
export interface Price {
  readonly currency: string;
  readonly perMillion: ReadonlyMap<string, Dec>;
  readonly asOf: string;
}

/** A class billed as another when its own price is absent. */
const FALLBACK: Partial<Record<TokenClass, TokenClass>> = { reasoning: "output" };

function priceOf(price: Price, cls: TokenClass): Dec | undefined {
  const value = price.perMillion.get(cls);
  const alias = FALLBACK[cls];
  return value === undefined && alias !== undefined ? price.perMillion.get(alias) : value;
}

/** The cost of `tokens` at `price`, or null if a class with tokens has no price (or no price at all). */
export function cost(tokens: Tokens, price: Price | null): Dec | null {
  if (price === null) return null;
  let total = ZERO;
  for (const [cls, count] of Object.entries(tokens) as [TokenClass, number][]) {
    if (!count) continue;
    const per = priceOf(price, cls);
    if (per === undefined) return null;
    total = addDec(total, { n: per.n * BigInt(count), s: per.s });
  }
  return { n: total.n, s: total.s + 6 }; // per million
}

/** A `Price` from its aigw-client.json form, or null when absent or malformed. */
export function priceFromJson(doc: unknown): Price | null {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return null;
  const d = doc as Record<string, unknown>;
  const raw = d["per_million"];
  if (typeof d["currency"] !== "string" || typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return null;
  }
  const perMillion = new Map<string, Dec>();
  for (const [k, v] of Object.entries(raw)) {
    const dec = parseDec(v);
    if (dec === null) return null;
    perMillion.set(k, dec);
  }
  return { currency: d["currency"], perMillion, asOf: typeof d["as_of"] === "string" ? d["as_of"] : "" };
}
