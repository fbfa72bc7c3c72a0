/**
 * Live config: follow `aigw-client.json` as the agent replaces it, without a restart.
 *
 * `ConfigFollower` stats the file at most every `checkInterval` seconds (the hot
 * path compares a clock with a deadline), reads a changed file whole and hands
 * it to the client, which swaps in a new immutable snapshot or rejects it (the
 * old one keeps serving). Content already served or rejected is never parsed twice.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";

import { type ClientConfig, readConfigFile } from "./config.js";
import { ConfigError } from "./errors.js";

/** What `client.configStatus` reports about following the config file. */
export interface ConfigStatus {
  /** The revision serving now ("" when the file has none). */
  revision: string;
  /** Why the last rejected file was rejected ("" if none yet). */
  rejection: string;
  /** How many changed files were rejected. */
  rejected: number;
  /** How many new configs were swapped in. */
  reloads: number;
  /** Wall-clock time (ms since the epoch) the serving config came in. */
  loadedAt: number;
  /** False when the client reads its config only once. */
  following: boolean;
}

const now = (): number => performance.now() / 1000;

export class ConfigFollower {
  nextCheck: number;
  rejected = 0;
  rejection = "";
  private sig: string | null = null;
  private serving: string;
  private refused = "";
  private missing = false;

  constructor(readonly path: string, readonly checkInterval: number, config: ClientConfig,
              private readonly apply: (data: Buffer) => void,
              private readonly warn: (msg: string) => void) {
    this.nextCheck = now() + checkInterval;
    this.serving = config.sourceSha256;
  }

  /** Look at the file now. */
  check(): void {
    try {
      this.checkOnce();
    } finally {
      this.nextCheck = now() + this.checkInterval;
    }
  }

  private checkOnce(): void {
    let sig: string;
    try {
      const st = statSync(this.path);
      sig = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.size}`;
    } catch {
      if (!this.missing) {
        this.missing = true;
        this.reject(`${this.path}: missing`);
      }
      this.sig = null;
      return;
    }
    this.missing = false;
    if (sig === this.sig) return;
    this.sig = sig;
    let data: Buffer;
    try {
      data = readConfigFile(this.path);
    } catch (exc) {
      this.refused = "";
      this.reject((exc as Error).message);
      return;
    }
    const digest = createHash("sha256").update(data).digest("hex");
    if (digest === this.serving || digest === this.refused) return;
    try {
      this.apply(data);
      this.serving = digest;
      this.refused = "";
    } catch (exc) {
      this.refused = digest;
      this.reject(exc instanceof ConfigError ? exc.message
        : `${this.path}: cannot use it (${(exc as Error).name}: ${(exc as Error).message})`);
    }
  }

  private reject(reason: string): void {
    this.rejected++;
    this.rejection = reason;
    this.warn(`rejected ${reason.replace(/\n/g, " ")}; the old config keeps serving`);
  }
}
