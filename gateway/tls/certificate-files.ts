// uWebSockets.js reads certificates and keys from files only. They are written to a private
// folder (0700, files 0600), named by a hash of their content so an unchanged certificate keeps
// its files across Snapshots, and removed when no port uses them any more.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificatePem {
  certPem: string;
  keyPem: string;
}

export interface CertificatePaths {
  cert_file_name: string;
  key_file_name: string;
  /** Content hash: equal ids mean the same certificate and key. */
  id: string;
}

export class CertificateFiles {
  private dir: string | undefined;
  private readonly written = new Map<string, CertificatePaths>();

  /** The files for this certificate, written on first use. */
  paths(pem: CertificatePem): CertificatePaths {
    const id = createHash("sha256").update(pem.certPem).update("\0").update(pem.keyPem).digest("hex").slice(0, 32);
    let paths = this.written.get(id);
    if (paths === undefined) {
      this.dir ??= mkdtempSync(join(tmpdir(), "meshgate-tls-"));
      paths = { id, cert_file_name: join(this.dir, `${id}.crt`), key_file_name: join(this.dir, `${id}.key`) };
      writeFileSync(paths.cert_file_name, pem.certPem, { mode: 0o600 });
      writeFileSync(paths.key_file_name, pem.keyPem, { mode: 0o600 });
      this.written.set(id, paths);
    }
    return paths;
  }

  /** Deletes the files of every certificate not in `inUse` (ids). */
  retain(inUse: ReadonlySet<string>): void {
    for (const [id, paths] of this.written) {
      if (inUse.has(id)) continue;
      rmSync(paths.cert_file_name, { force: true });
      rmSync(paths.key_file_name, { force: true });
      this.written.delete(id);
    }
  }

  /** Deletes the folder and everything in it. */
  close(): void {
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.written.clear();
  }
}
