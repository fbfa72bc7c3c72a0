/**
 * A seeded source of numbers in [0, 1) for the `random` option, so a test or a
 * replay gets the same weighted picks every run. The draw itself (how a number
 * picks a route, spec/README.md R6) is `AliasRouter.pick` in router.ts; the
 * spec's vectors inject their numbers instead.
 */
import type { Random } from "./router.js";

/** mulberry32: a small, fast 32-bit generator (not for cryptography). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
