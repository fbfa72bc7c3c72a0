/** Optional peer dependencies, loaded synchronously when installed (null when not). */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export function optional<T>(name: string): T | null {
  try {
    return require(name) as T;
  } catch (exc) {
    if ((exc as NodeJS.ErrnoException)?.code === "MODULE_NOT_FOUND") return null;
    throw exc;
  }
}
