/**
 * The official SDKs' clients over aigw's fetch: `openai` (7.x) and
 * `@anthropic-ai/sdk` (1.x), imported from the application's own install (ESM, so
 * `instanceof` checks against its exports hold). aigw sets the SDK's `apiKey`
 * (never sent), `baseURL` (aigw's), `maxRetries: 0` (aigw owns retries and
 * failover) and `fetch`; every other option is the SDK's.
 */
import { ClientError } from "./errors.js";
import { AIGW_BASE_URL } from "./request.js";

type SdkModule = { default: new (options: Record<string, unknown>) => unknown };

async function importSdk(name: string): Promise<SdkModule> {
  try {
    return await import(name) as SdkModule;
  } catch (exc) {
    if ((exc as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND") {
      throw new ClientError(`the ${name} package is not installed (npm install ${name})`);
    }
    throw exc;
  }
}

/** A client of the `openai` package whose requests go through `fetch`. */
export async function openaiClient(fetch: typeof globalThis.fetch, options: Record<string, unknown>): Promise<unknown> {
  const mod = await importSdk("openai");
  return new mod.default({ ...options, apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch });
}

/** A client of `@anthropic-ai/sdk` whose requests go through `fetch` (no credential of its own). */
export async function anthropicClient(fetch: typeof globalThis.fetch, options: Record<string, unknown>): Promise<unknown> {
  const mod = await importSdk("@anthropic-ai/sdk");
  return new mod.default({ ...options, apiKey: "aigw", authToken: null, baseURL: AIGW_BASE_URL, maxRetries: 0, fetch });
}
