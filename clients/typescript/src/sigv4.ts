/**
 * SigV4 for `bedrock` routes, through `@smithy/signature-v4` (an optional peer
 * dependency). Without it a `bedrock` route is skipped with outcome `no_signer`.
 * Signs host, x-amz-date and the payload hash (x-amz-content-sha256), plus the
 * session token, as the Python client does.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";

import type { AwsCredentials } from "./keys.js";
import { optional } from "./optional.js";
import { BEDROCK_SERVICE } from "./wire.js";

/** The `Checksum` constructor @smithy/signature-v4 takes, over node:crypto. */
class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | Uint8Array) {
    this.h = secret === undefined ? createHash("sha256") : createHmac("sha256", secret);
  }
  update(data: string | Uint8Array): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    throw new Error("not resettable");
  }
}

interface SmithyModule {
  SignatureV4: new (options: Record<string, unknown>) => {
    sign(request: Record<string, unknown>, options?: Record<string, unknown>): Promise<{ headers: Record<string, string> }>;
  };
}

/** Adds SigV4 headers to `headers` for a request of `body` to `url`. */
export type SigV4 = (url: string, headers: Record<string, string>, body: string, credential: AwsCredentials,
                     region: string) => Promise<void>;

export function loadSigner(): SigV4 | null {
  const mod = optional<SmithyModule>("@smithy/signature-v4");
  if (mod === null) return null;
  return async (url, headers, body, credential, region) => {
    const signer = new mod.SignatureV4({
      service: BEDROCK_SERVICE, region, sha256: Sha256, uriEscapePath: true, applyChecksum: true,
      credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey,
                     sessionToken: credential.sessionToken },
    });
    const u = new URL(url);
    const query: Record<string, string> = {};
    u.searchParams.forEach((v, k) => { query[k] = v; });
    const signed = await signer.sign({
      method: "POST", protocol: u.protocol, hostname: u.hostname, port: u.port || undefined,
      path: decodeURIComponent(u.pathname), query, headers: { host: u.host }, body,
    });
    for (const [k, v] of Object.entries(signed.headers)) {
      if (k.toLowerCase() !== "host") headers[k.toLowerCase()] = v;
    }
  };
}
