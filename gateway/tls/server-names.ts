// Which certificate and TLS policy an HTTPS port presents for each SNI name, as uWebSockets.js
// wants it: the fallback (no SNI, or a name not listed) is the app's own certificate and can only
// change with a new app; new names are added to the running app, while a name removed or given
// another certificate means a new app for the port (the old one keeps its connections and names:
// uWS 20.30 crashes on a request over a connection whose name was removed), so a rotated
// certificate reaches new connections at once while established ones keep theirs.
//
// uWS looks SNI names up byte for byte (measured: "A.TEST" does not find "a.test", while
// "a.test." does). A client's spelling in another case gets an alias: a server name of its own,
// added from uWS's missing-server-name callback during that handshake, with the certificate,
// policy and routes of the listener it names. Aliases are bounded, and made only for names that
// a listener serves once lower-cased and stripped of a trailing dot.
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

/** Attaches a port's handlers to an app, or to the router of one of its SNI names (`serverName`,
 * the listener's hostname pattern). */
export type AttachRoutes = (app: TemplatedApp, serverName?: string) => void;

/**
 * Most aliases one app holds. None is ever removed to make room: uWS 20.30 frees a name's router
 * while connections that chose the name may still send requests, and the next one crashes the
 * process (measured), so a client could trade aliases to bring the gateway down. Past the bound,
 * a new spelling is served as today: with the fallback certificate, or no handshake.
 */
export const MAX_SERVER_NAME_ALIASES = 256;

/** The files of an HTTPS port's certificates; undefined for a plain HTTP port. */
export function portCertificates(config: PortConfig, files: CertificateFiles): PortCertificates | undefined {
  const tls = config.tls;
  if (config.protocol !== "HTTPS" || tls === undefined) return undefined;
  const byName = new Map(tls.certificates.map((c) => [c.name, files.paths(c)]));
  const serverNames = new Map<string, ServedName>();
  for (const s of tls.serverNames) {
    const paths = byName.get(s.certificate);
    const hostname = s.hostname.toLowerCase();
    // validateSnapshot guarantees the reference; the first listing of a name wins.
    if (paths !== undefined && !serverNames.has(hostname)) {
      serverNames.set(hostname, { paths, ciphers: sslCiphers(s.policy) });
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

/** The server names of one app: the listeners' patterns and the aliases of client spellings. */
export class ServerNames {
  /** Every name added to the app (patterns and aliases) -> what it serves (servedKey). */
  private readonly added = new Map<string, string>();
  /** Alias as the client spelt it -> the pattern it stands for. */
  private readonly aliases = new Map<string, string>();
  private wanted: ReadonlyMap<string, ServedName> = new Map();

  constructor(
    private readonly app: TemplatedApp,
    private readonly routes: AttachRoutes,
    private readonly maxAliases = MAX_SERVER_NAME_ALIASES,
  ) {
    app.missingServerName((name) => this.missing(name));
  }

  /** Aliases held now. */
  get aliasCount(): number {
    return this.aliases.size;
  }

  /**
   * Whether `sync(wanted)` only adds names. Removing or replacing a name is what uWS 20.30 cannot
   * survive while a connection that chose it is open (see MAX_SERVER_NAME_ALIASES): the data
   * plane gives the port a new app instead, and this one keeps its names until it is gone.
   */
  onlyAdds(wanted: ReadonlyMap<string, ServedName>): boolean {
    for (const [name, key] of this.added) {
      const served = wanted.get(this.aliases.get(name) ?? name);
      if (served === undefined || servedKey(served) !== key) return false;
    }
    return true;
  }

  /** Brings the app's names to `wanted`, touching only the names that changed. */
  sync(wanted: ReadonlyMap<string, ServedName>): void {
    this.wanted = wanted;
    for (const name of [...this.added.keys()]) {
      const pattern = this.aliases.get(name) ?? name;
      if (wanted.has(pattern)) continue;
      this.app.removeServerName(name);
      this.added.delete(name);
      this.aliases.delete(name);
    }
    for (const [pattern, served] of wanted) this.add(pattern, pattern, served);
    for (const [alias, pattern] of this.aliases) {
      const served = wanted.get(pattern);
      if (served !== undefined) this.add(alias, pattern, served);
    }
  }

  /** uWS found no name for a ClientHello's SNI; runs during that handshake. */
  private missing(name: string): void {
    if (this.aliases.size >= this.maxAliases || this.added.has(name)) return;
    const pattern = listenerPattern(name, this.wanted);
    const served = pattern === undefined ? undefined : this.wanted.get(pattern);
    if (pattern === undefined || served === undefined) return;
    this.aliases.set(name, pattern);
    this.add(name, pattern, served);
  }

  /** Adds `name` serving `pattern`'s certificate, policy and routes, unless it already does. */
  private add(name: string, pattern: string, served: ServedName): void {
    const key = servedKey(served);
    const current = this.added.get(name);
    if (current === key) return;
    if (current !== undefined) this.app.removeServerName(name);
    this.app.addServerName(name, {
      cert_file_name: served.paths.cert_file_name,
      key_file_name: served.paths.key_file_name,
      ssl_ciphers: served.ciphers,
    });
    this.routes(this.app.domain(name), pattern);
    this.added.set(name, key);
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The pattern in `wanted` that uWS would have matched for `name` had the client spelt it in
 * lower case without a trailing dot: the exact name, or a wildcard covering its first label.
 */
export function listenerPattern(name: string, wanted: ReadonlyMap<string, unknown>): string | undefined {
  const lower = name.toLowerCase();
  const normal = lower.endsWith(".") ? lower.slice(0, -1) : lower;
  if (!HOST_NAME.test(normal)) return undefined;
  if (wanted.has(normal)) return normal;
  const dot = normal.indexOf(".");
  const wildcard = dot > 0 ? `*${normal.slice(dot)}` : undefined;
  return wildcard !== undefined && wanted.has(wildcard) ? wildcard : undefined;
}
