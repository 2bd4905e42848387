// Answers ACME HTTP-01 challenges from memory. The gateway asks `answer()` before any HTTPRoute
// so a route for "/" cannot shadow /.well-known/acme-challenge/ while a certificate is ordered.
export interface ChallengeResponder {
  /** Makes `keyAuthorization` the answer for `token` until `remove(token)`. */
  set(token: string, keyAuthorization: string): void | Promise<void>;
  remove(token: string): void | Promise<void>;
}

export const HTTP01_PATH_PREFIX = "/.well-known/acme-challenge/";

// RFC 8555 section 8.3: the token is base64url without padding; CAs use 43 characters, the
// upper bound only keeps a hostile path from becoming a large map key.
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function isChallengeToken(token: string): boolean {
  return TOKEN.test(token);
}

export class Http01Responder implements ChallengeResponder {
  private readonly answers = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    if (!isChallengeToken(token)) throw new Error("an HTTP-01 token must be base64url");
    // The key authorization is "<token>.<account key thumbprint>"; anything else would make the
    // CA's check fail later with a far less helpful message.
    const thumbprint = keyAuthorization.slice(token.length + 1);
    if (!keyAuthorization.startsWith(`${token}.`) || !isChallengeToken(thumbprint)) {
      throw new Error("an HTTP-01 key authorization must be <token>.<thumbprint>");
    }
    this.answers.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.answers.delete(token);
  }

  /** The body to send for a request path (without query string), or undefined if not ours. */
  answer(path: string): string | undefined {
    if (!path.startsWith(HTTP01_PATH_PREFIX)) return undefined;
    const token = path.slice(HTTP01_PATH_PREFIX.length);
    return isChallengeToken(token) ? this.answers.get(token) : undefined;
  }

  /** Tokens currently answered; the gateway can skip the prefix check entirely when zero. */
  get pending(): number {
    return this.answers.size;
  }
}
