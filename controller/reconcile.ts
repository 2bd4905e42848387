// Standalone reconcile: read the folder, translate, validate the Snapshot. Each load gets the
// next version so the data plane, its metrics and the status can tell configurations apart.
import { type ValidationResult, validateSnapshot } from "../gateway/snapshot.js";
import { loadFolder } from "./provider/file.js";
import type { AcmeInputs } from "./translate/acme-certificates.js";
import type { ServedCertificate } from "./translate/certificates.js";
import { type Translation, translate } from "./translate/index.js";

export class Reconciler {
  private version = 0;
  /** Certificates served so far, by Secret: a Secret that turns bad keeps its last good one. */
  private certificates = new Map<string, ServedCertificate>();

  constructor(private readonly dir: string) {}

  /**
   * Rejects only when the folder cannot be listed; everything else is in the status report.
   * `acme`: what the ACME manager holds now, where one runs (standalone), as another source.
   */
  async load(acme?: AcmeInputs): Promise<{ translation: Translation; validation: ValidationResult }> {
    const { resources, errors } = await loadFolder(this.dir);
    this.version++;
    const translation = translate(resources, {
      version: this.version,
      loadErrors: errors,
      lastGoodCertificates: this.certificates,
      ...(acme === undefined ? {} : { acme }),
    });
    this.certificates = translation.certificates;
    const validation = validateSnapshot(translation.snapshot);
    if (!validation.ok) translation.status.refused = validation.errors;
    return { translation, validation };
  }
}
