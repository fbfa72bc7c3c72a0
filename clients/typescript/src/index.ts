/**
 * @aigw/client: aigw's runtime for Node.js. Failover, retries, cooldown, session
 * affinity, weights and live key and config files, in-process, underneath the
 * official `openai` and `@anthropic-ai/sdk` clients (their `fetch` option).
 */
export { AckRecorder, FORMAT as ACKS_FORMAT, merge as mergeAck } from "./acks.js";
export { AigwClient, type ClientOptions, type Logger } from "./client.js";
export { type AliasConfig, type ClientConfig, loadConfig, parseConfig, type Route } from "./config.js";
export { AllRoutesFailed, type Attempt, attemptsOf, ClientError, ConfigError, NoRouteAnswered,
  StreamInterrupted, UnknownAlias, WrongFamily } from "./errors.js";
export { AIGW_BASE_URL } from "./request.js";
export { fingerprint } from "./keys.js";
export type { ConfigStatus } from "./live.js";
export { seededRandom } from "./random.js";
