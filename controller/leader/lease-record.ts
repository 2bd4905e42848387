// The election record as it is kept in a coordination.k8s.io/v1 Lease's spec.

/** A coordination.k8s.io/v1 Lease as the API serves it (JSON: MicroTimes are strings). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec?: LeaseSpec;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [key: string]: unknown;
}

export interface LeaseRecord {
  /** Empty when nobody holds the Lease (never held, or released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** RFC 3339 as the server stores it; "" when absent. Only for people reading the Lease. */
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export function recordOf(lease: Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? "",
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec.acquireTime),
    renewTime: timeText(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * Two reads that give the same key saw the same record. Candidates time a holder's lease from
 * when this key last changed (every renewal changes renewTime), on their own clock.
 */
export function recordKey(record: LeaseRecord): string {
  return JSON.stringify([record.holderIdentity, record.leaseDurationSeconds, record.acquireTime, record.renewTime, record.leaseTransitions]);
}

/** The spec to write: the fields the election owns, anything else already there kept. */
export function specFor(previous: LeaseSpec | undefined, record: LeaseRecord): LeaseSpec {
  return {
    ...previous,
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** Now, as the Lease's MicroTime fields store it (RFC 3339 with microsecond digits). */
export function nowText(): string {
  return microText(Date.now());
}

function microTime(text: string): string {
  return microText(text === "" ? Date.now() : Date.parse(text));
}

function microText(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The server's string (a Date where something parsed it). */
function timeText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  return "";
}
