// Which certificate and TLS policy an HTTPS port presents for each SNI name, as uWebSockets.js
// wants it: the fallback (no SNI, or a name not listed) is the app's own certificate and can only
// change with a new app; named certificates are added and removed on the running app, so a
// rotated certificate reaches new connections at once while established ones keep theirs.
import type { PortConfig } from "../snapshot.js";
import type { TemplatedApp } from "../uws.js";
import type { CertificateFiles, CertificatePaths } from "./certificate-files.js";
import { sslCiphers } from "./cipher-suites.js";

export interface ServedName {
  paths: CertificatePaths;
  /** The `ssl_ciphers` string of the listener's TLS policy. */
  ciphers: string;
}

export interface PortCertificates {
  fallback: ServedName | undefined;
  /** SNI name (exact or "*.example.com") -> its certificate and policy. */
  serverNames: Map<string, ServedName>;
  all: CertificatePaths[];
}

/** The files of an HTTPS port's certificates; undefined for a plain HTTP port. */
export function portCertificates(config: PortConfig, files: CertificateFiles): PortCertificates | undefined {
  const tls = config.tls;
  if (config.protocol !== "HTTPS" || tls === undefined) return undefined;
  const byName = new Map(tls.certificates.map((c) => [c.name, files.paths(c)]));
  const serverNames = new Map<string, ServedName>();
  for (const s of tls.serverNames) {
    const paths = byName.get(s.certificate);
    // validateSnapshot guarantees the reference; the first listing of a name wins.
    if (paths !== undefined && !serverNames.has(s.hostname)) {
      serverNames.set(s.hostname, { paths, ciphers: sslCiphers(s.policy) });
    }
  }
  const fallback = tls.fallback === undefined ? undefined : byName.get(tls.fallback);
  return {
    fallback: fallback === undefined ? undefined : { paths: fallback, ciphers: sslCiphers(tls.fallbackPolicy) },
    serverNames,
    all: [...byName.values()],
  };
}

/** What uWS is given for a name; equal keys need no new SSL context. */
const servedKey = (s: ServedName) => `${s.paths.id}|${s.ciphers}`;

/** Attaches a port's handlers to an app, or to the router of one of its SNI names (`serverName`,
 * the listener's hostname pattern). */
export type AttachRoutes = (app: TemplatedApp, serverName?: string) => void;

/**
 * Brings the app's SNI names to `wanted`, touching only the names that changed. uWS gives each
 * SNI name its own router, so `routes` attaches the port's handlers to every name added.
 */
export function syncServerNames(
  app: TemplatedApp,
  current: Map<string, string>,
  wanted: ReadonlyMap<string, ServedName>,
  routes: AttachRoutes,
): void {
  for (const name of [...current.keys()]) {
    if (wanted.has(name)) continue;
    app.removeServerName(name);
    current.delete(name);
  }
  for (const [name, wantedName] of wanted) {
    const served = current.get(name);
    const key = servedKey(wantedName);
    if (served === key) continue;
    if (served !== undefined) app.removeServerName(name);
    const { paths, ciphers } = wantedName;
    app.addServerName(name, { cert_file_name: paths.cert_file_name, key_file_name: paths.key_file_name, ssl_ciphers: ciphers });
    routes(app.domain(name), name);
    current.set(name, key);
  }
}
