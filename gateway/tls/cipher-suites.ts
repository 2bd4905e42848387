// TLS versions and cipher suites an HTTPS listener offers, turned into the one knob the
// uWebSockets.js 20.30 build has: `ssl_ciphers`, a BoringSSL cipher string per app and per SNI
// name (measured: each name's string applies to handshakes that chose that name).
//
// Defaults follow Mozilla's "intermediate" profile: TLS 1.3, and TLS 1.2 with ECDHE key exchange
// and AEAD ciphers only (no RSA key exchange, no CBC, no SHA-1 MACs). BoringSSL has no DHE, so
// Mozilla's DHE suites are left out. TLS 1.0 and 1.1 are never offered by this build.
//
// Names are checked here before they reach uWS: a string BoringSSL cannot parse makes SSLApp
// throw and makes addServerName crash the process (measured), and it parses a string with only
// some unknown names by dropping them silently.

/** TLS 1.2 suites of the BoringSSL in uWebSockets.js 20.30 (measured one by one). */
export const KNOWN_CIPHER_SUITES: readonly string[] = Object.freeze([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-RSA-AES128-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-RSA-AES256-SHA",
  "AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-SHA",
  "AES256-SHA",
  "DES-CBC3-SHA",
]);

/** Mozilla intermediate, in its order, as BoringSSL names the suites. */
export const DEFAULT_CIPHER_SUITES: readonly string[] = Object.freeze(KNOWN_CIPHER_SUITES.slice(0, 6));

/** TLS 1.3's suites: BoringSSL always offers all three, and no setting changes that. */
const TLS13_SUITES = new Set(["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]);

/**
 * A TLS 1.2 suite list that no handshake can use: PSK key exchange with no PSK configured.
 * BoringSSL then refuses every TLS 1.2 (and older) client, while TLS 1.3, whose suites this
 * string does not touch, goes on: the only way to require TLS 1.3 through uWS 20.30's options.
 */
export const TLS13_ONLY = "ECDHE-PSK-CHACHA20-POLY1305";

export interface TlsPolicy {
  minVersion: "1.2" | "1.3";
  /** TLS 1.2 suites, each a name or an equal-preference group "[A|B]"; empty: the defaults. */
  ciphers: string[];
}

/** Why `entry` is not a suite list entry this build accepts, or undefined when it is one. */
export function cipherEntryProblem(entry: string): string | undefined {
  const group = entry.startsWith("[") && entry.endsWith("]");
  const names = group ? entry.slice(1, -1).split("|") : [entry];
  for (const name of names) {
    if (TLS13_SUITES.has(name)) {
      return `${name} is a TLS 1.3 suite; BoringSSL always offers TLS 1.3's three suites and ciphers sets TLS 1.2's`;
    }
    if (!KNOWN_CIPHER_SUITES.includes(name)) {
      return `"${name}" is not a TLS 1.2 cipher suite this build knows (${KNOWN_CIPHER_SUITES.join(", ")})`;
    }
  }
  return undefined;
}

/** The `ssl_ciphers` string for a listener's policy (none: the defaults). */
export function sslCiphers(policy: TlsPolicy | undefined): string {
  if (policy?.minVersion === "1.3") return TLS13_ONLY;
  const list = policy === undefined || policy.ciphers.length === 0 ? DEFAULT_CIPHER_SUITES : policy.ciphers;
  return list.join(":");
}
