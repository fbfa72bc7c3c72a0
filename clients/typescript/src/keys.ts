/**
 * Key files: read once, re-read when an agent replaces them (by rename, so a
 * change shows as a new inode, mtime or size). The hot path only compares a
 * clock with a deadline; a `stat` runs at most every `checkInterval` seconds,
 * or at once after `markDirty` (an `fs.watch` event) or a 401/403. No key value
 * is ever logged: only its fingerprint.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, type Stats } from "node:fs";
import { performance } from "node:perf_hooks";

/** The public fingerprint of a key: the first 12 hex digits of its sha256. */
export function fingerprint(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12);
}

export type Credential = [credential: unknown, fingerprint: string];
export type Parse = (text: string) => Credential | null;

/** A key file holding one key: the key and its fingerprint, null when empty. */
export function parseToken(text: string): Credential | null {
  const key = text.trim();
  return key ? [key, fingerprint(key)] : null;
}

/** One AWS access key; never printed (its inspection shows the key id only). */
export class AwsCredentials {
  constructor(readonly accessKeyId: string, readonly secretAccessKey: string,
              readonly sessionToken?: string) {
    Object.defineProperty(this, "secretAccessKey", { enumerable: false });
    Object.defineProperty(this, "sessionToken", { enumerable: false });
  }
  toString(): string {
    return `AwsCredentials(${this.accessKeyId}, ***)`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** The `[default]` (or first) profile of an AWS credentials file, fingerprinted by its secret. */
export function parseAwsCredentials(text: string): Credential | null {
  const values = new Map<string, string>();
  let section: string | null = null;
  for (let line of text.split(/\r?\n/)) {
    line = line.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[") && line.endsWith("]")) {
      if (section !== null && values.size) break; // the first profile wins
      section = line.slice(1, -1).trim();
      continue;
    }
    const eq = line.indexOf("=");
    if (eq >= 0) values.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const id = values.get("aws_access_key_id");
  const secret = values.get("aws_secret_access_key");
  if (!id || !secret) return null;
  return [new AwsCredentials(id, secret, values.get("aws_session_token") || undefined), fingerprint(secret)];
}

/**
 * The files that hold one field each of an AWS slot whose key file is `fileName`
 * (how a Kubernetes CSI volume mounts it): aigw.names.aws_key_parts.
 */
export function awsKeyParts(fileName: string): [file: string, field: string][] {
  return [[`${fileName}.id`, "aws_access_key_id"], [`${fileName}.secret`, "aws_secret_access_key"]];
}

const now = (): number => performance.now() / 1000;

/** The current credential in one file, as [credential, fingerprint], or null. */
export class KeyFile {
  private sig: string | null = null;
  // #private: never shown by util.inspect or JSON.stringify (it holds the key).
  #current: Credential | null = null;
  private nextCheck = 0;
  /** Called with (file, old fingerprint, new fingerprint) when the key changes. */
  onChange: ((file: string, oldFp: string | null, newFp: string | null) => void) | null = null;

  constructor(readonly path: string, readonly checkInterval = 0.1,
              readonly parse: Parse = parseToken,
              readonly parts: readonly [string, string][] = []) {}

  /** The key and its fingerprint; looks at the file at most every `checkInterval`. */
  get(): Credential | null {
    if (now() >= this.nextCheck) this.refresh(false);
    return this.#current;
  }

  /** Re-read the file now, even if it looks unchanged (after a 401/403). */
  reload(): Credential | null {
    this.refresh(true);
    return this.#current;
  }

  toJSON(): Record<string, unknown> {
    return { path: this.path, fingerprint: this.#current?.[1] ?? null };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `KeyFile(${this.path}, ${this.#current?.[1] ?? "no key"})`;
  }

  /** Make the next `get` look at the file. */
  markDirty(): void {
    this.nextCheck = 0;
  }

  private stat(): [string[], Stats[]] | null {
    for (const files of [[this.path], this.parts.map(([p]) => p)]) {
      if (!files.length) continue;
      try {
        return [files, files.map((f) => statSync(f))];
      } catch {
        continue;
      }
    }
    return null;
  }

  private refresh(force: boolean): void {
    try {
      this.read(force);
    } finally {
      this.nextCheck = now() + this.checkInterval;
    }
  }

  private read(force: boolean): void {
    const found = this.stat();
    const old = this.#current ? this.#current[1] : null;
    if (found === null) {
      this.sig = null;
      this.#current = null;
      if (old !== null) this.onChange?.(this.path, old, null);
      return;
    }
    const [files, stats] = found;
    const sig = stats.map((s) => `${s.dev}:${s.ino}:${s.mtimeMs}:${s.size}`).join("|");
    if (sig === this.sig && !force) return;
    let text: string;
    try {
      text = files.length === 1 && files[0] === this.path
        ? readFileSync(this.path, "utf8")
        : "[default]\n" + this.parts.map(([p, field]) =>
            `${field} = ${readFileSync(p, "utf8").trim()}\n`).join("");
    } catch {
      this.sig = null;
      this.#current = null;
      return;
    }
    this.sig = sig;
    this.#current = this.parse(text);
    const fresh = this.#current ? this.#current[1] : null;
    if (fresh !== old) this.onChange?.(this.path, old, fresh);
  }
}
