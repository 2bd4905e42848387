// Certificate names in one canonical form, so the same set of names always maps to the same
// stored file and the same managed entry, whatever order a route happens to list them in.
import { createHash } from "node:crypto";

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_NAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}$`);

/** Lower-cased, trailing dot dropped, de-duplicated and sorted; throws on anything not a DNS name. */
export function canonicalNames(names: readonly string[]): string[] {
  const unique = [...new Set(names.map((name) => name.trim().toLowerCase().replace(/\.$/, "")))].sort();
  if (unique.length === 0) throw new Error("a certificate needs at least one name");
  for (const name of unique) {
    if (name.length > 253 || !DNS_NAME.test(name)) throw new Error(`not a DNS name: ${JSON.stringify(name)}`);
  }
  return unique;
}

/**
 * A file-safe id for a set of names: the first name keeps it readable for operators, the hash
 * keeps two different sets that share a first name apart.
 */
export function certificateId(names: readonly string[]): string {
  const canonical = canonicalNames(names);
  const digest = createHash("sha256").update(canonical.join("\n")).digest("hex").slice(0, 16);
  const readable = (canonical[0] ?? "").replace("*", "_").slice(0, 64);
  return `${readable}-${digest}`;
}
