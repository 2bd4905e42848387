// Standalone reconcile: read the folder, translate, validate the Snapshot. Each load gets the
// next version so the data plane, its metrics and the status can tell configurations apart.
import { type ValidationResult, validateSnapshot } from "../gateway/snapshot.js";
import { loadFolder, type LoadResult } from "./provider/file.js";
import type { AcmeInputs } from "./translate/acme-certificates.js";
import type { ServedCertificate } from "./translate/certificates.js";
import { type Translation, translate } from "./translate/index.js";

export interface Reconciled {
  translation: Translation;
  validation: ValidationResult;
}

export class Reconciler {
  private version = 0;
  /** Certificates served so far, by Secret: a Secret that turns bad keeps its last good one. */
  private certificates = new Map<string, ServedCertificate>();

  constructor(private readonly dir: string) {}

  /**
   * Rejects only when the folder cannot be listed; everything else is in the status report.
   * `acme`: what the ACME manager holds now, where one runs (standalone), as another source.
   */
  async load(acme?: AcmeInputs): Promise<Reconciled> {
    this.version++;
    const result = await reconcile(this.dir, this.version, this.certificates, acme);
    this.certificates = result.translation.certificates;
    return result;
  }
}

/** One load of the folder as `version`, keeping the last good certificates given. */
export async function reconcile(
  dir: string,
  version: number,
  lastGoodCertificates: ReadonlyMap<string, ServedCertificate>,
  acme?: AcmeInputs,
): Promise<Reconciled> {
  return reconcileLoaded(await loadFolder(dir), version, lastGoodCertificates, acme);
}

/** Translation and Snapshot validation of what a provider loaded (validate and status read the resources too). */
export function reconcileLoaded(
  { resources, errors }: LoadResult,
  version: number,
  lastGoodCertificates: ReadonlyMap<string, ServedCertificate>,
  acme?: AcmeInputs,
): Reconciled {
  const translation = translate(resources, {
    version,
    loadErrors: errors,
    lastGoodCertificates,
    ...(acme === undefined ? {} : { acme }),
  });
  const validation = validateSnapshot(translation.snapshot);
  if (!validation.ok) translation.status.refused = validation.errors;
  return { translation, validation };
}
