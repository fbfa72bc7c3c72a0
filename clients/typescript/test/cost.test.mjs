// Cost = tokens x price: the golden cases of the Python client's tests/client/test_cost.py,
// ported as the same literal decimals (worked by hand, not computed by the code under
// test), from the usage JSON each provider documents. Pure functions: no stand-ins.
import assert from "node:assert/strict";
import { test } from "node:test";

import { cost, decString, parseDec, priceFromJson } from "../dist/cost.js";
import { tokensOf } from "../dist/usage.js";

const price = (currency, perMillion) => priceFromJson({ currency, as_of: "2026-11-01", per_million: perMillion });
const usd = (p) => price("USD", p);

const GPT4O = usd({ input: "2.50", cache_read: "1.25", output: "10.00" });
const CLAUDE = usd({ input: "3", cache_read: "0.30", cache_write: "3.75", output: "15" });
const O3 = usd({ input: "2", cache_read: "0.50", output: "8" });
const APART = usd({ input: "1", output: "4", reasoning: "2" });
const DEEPSEEK_CNY = price("CNY", { input: "2", cache_read: "0.5", output: "8" });
const QWEN_CNY = price("CNY", { input: "0.8", output: "2" });
const MISTRAL_EUR = price("EUR", { input: "0.25", output: "1.00" });
const INPUT_ONLY = usd({ input: "1" });

function chat(prompt, completion, { cached = 0, reasoning = 0 } = {}) {
  const u = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cached) u.prompt_tokens_details = { cached_tokens: cached };
  if (reasoning) u.completion_tokens_details = { reasoning_tokens: reasoning };
  return u;
}

const claude = (i, o, { read = 0, write = 0 } = {}) =>
  ({ input_tokens: i, output_tokens: o, cache_read_input_tokens: read, cache_creation_input_tokens: write });

const CASES = [
  // [id, usage, family, price, expected cost or null, currency]
  ["chat-plain", chat(1000, 500), "openai", GPT4O, "0.0075", "USD"],
  ["chat-cached", chat(1000, 500, { cached: 400 }), "openai", GPT4O, "0.007", "USD"],
  ["chat-one-each", chat(1, 1), "openai", GPT4O, "0.0000125", "USD"],
  ["chat-zero", chat(0, 0), "openai", GPT4O, "0", "USD"],
  ["chat-large", chat(128000, 16384), "openai", GPT4O, "0.48384", "USD"],
  ["chat-all-cached", chat(7, 3, { cached: 7 }), "openai", GPT4O, "0.00003875", "USD"],
  ["claude-all-classes", claude(100, 300, { read: 2000, write: 500 }), "anthropic", CLAUDE, "0.007275", "USD"],
  ["claude-plain", claude(10, 20), "anthropic", CLAUDE, "0.00033", "USD"],
  ["claude-cache-write", claude(0, 1, { write: 10000 }), "anthropic", CLAUDE, "0.037515", "USD"],
  ["claude-cache-read", claude(5, 50, { read: 100000 }), "anthropic", CLAUDE, "0.030765", "USD"],
  ["claude-input-only", claude(1000, 0), "anthropic", CLAUDE, "0.003", "USD"],
  ["o3-reasoning-as-output", chat(2000, 3000, { reasoning: 2500 }), "openai", O3, "0.028", "USD"],
  ["o3-reasoning-cached", chat(2000, 3000, { cached: 1000, reasoning: 2500 }), "openai", O3, "0.0265", "USD"],
  ["responses-api", { input_tokens: 1500, output_tokens: 700, input_tokens_details: { cached_tokens: 500 },
                      output_tokens_details: { reasoning_tokens: 200 } }, "openai", GPT4O, "0.010125", "USD"],
  ["reasoning-billed-apart", chat(100, 300, { reasoning: 200 }), "openai", APART, "0.0009", "USD"],
  ["deepseek-cny-cache-hit", { prompt_tokens: 1000, completion_tokens: 200, prompt_cache_hit_tokens: 600,
                               prompt_cache_miss_tokens: 400 }, "openai", DEEPSEEK_CNY, "0.0027", "CNY"],
  ["deepseek-cny-small", chat(3, 7), "openai", DEEPSEEK_CNY, "0.000062", "CNY"],
  ["bailian-cny-million", chat(1000000, 1000000), "openai", QWEN_CNY, "2.8", "CNY"],
  ["mistral-eur", chat(400, 100), "openai", MISTRAL_EUR, "0.0002", "EUR"],
  ["mistral-eur-odd", chat(1234567, 7654321), "openai", MISTRAL_EUR, "7.96296275", "EUR"],
  // No price for a class the call used: no cost, never a partial one.
  ["cache-read-unpriced", chat(1000, 10, { cached: 100 }), "openai", MISTRAL_EUR, null, "EUR"],
  ["cache-write-unpriced", claude(1, 1, { write: 5 }), "anthropic", GPT4O, null, "USD"],
  ["output-unpriced", chat(10, 5), "openai", INPUT_ONLY, null, "USD"],
  ["reasoning-unpriced", chat(10, 5, { reasoning: 5 }), "openai", INPUT_ONLY, null, "USD"],
  ["no-price", chat(10, 5), "openai", null, null, ""],
];

for (const [id, usage, family, p, expected, currency] of CASES) {
  test(`golden cost: ${id}`, () => {
    const tokens = tokensOf(usage, family);
    assert.notEqual(tokens, null);
    const got = cost(tokens, p);
    if (expected === null) {
      assert.equal(got, null);
    } else {
      assert.equal(decString(got), expected);
      assert.equal(p.currency, currency);
    }
  });
}

test("a price from aigw-client.json: decimal strings, no float rounding on the way", () => {
  const p = priceFromJson({ currency: "USD", as_of: "2026-11-01", per_million: { input: "0.15", output: "0.60" } });
  assert.equal(decString(cost({ input: 3, cache_read: 0, cache_write: 0, output: 7, reasoning: 0 }, p)), "0.00000465");
  assert.equal(priceFromJson({ currency: "USD", per_million: { input: "x" } }), null);
  assert.equal(priceFromJson(null), null);
  assert.equal(priceFromJson({ per_million: {} }), null);
});

test("decimals parse exactly (strings and JSON numbers)", () => {
  for (const [text, want] of [["2.50", "2.5"], ["0.000001", "0.000001"], ["1e-7", "0.0000001"], [1.25, "1.25"],
                              ["10", "10"], ["1E3", "1000"], ["-0.5", "-0.5"]]) {
    assert.equal(decString(parseDec(text)), want, String(text));
  }
  for (const bad of ["", ".", "x", "1.2.3", null, {}, Infinity]) assert.equal(parseDec(bad), null, String(bad));
});
