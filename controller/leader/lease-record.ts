// The election record as it is kept in a coordination.k8s.io/v1 Lease's spec.
import { type V1Lease, type V1LeaseSpec, V1MicroTime } from "@kubernetes/client-node";

export interface LeaseRecord {
  /** Empty when nobody holds the Lease (never held, or released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** RFC 3339 as the server stores it; "" when absent. Only for people reading the Lease. */
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export function recordOf(lease: V1Lease): LeaseRecord {
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
export function specFor(previous: V1LeaseSpec | undefined, record: LeaseRecord): V1LeaseSpec {
  return {
    ...previous,
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** Now, as the Lease's MicroTime fields store it (microsecond digits). */
export function nowText(): string {
  return new V1MicroTime(Date.now()).toISOString();
}

function microTime(text: string): V1MicroTime {
  return new V1MicroTime(text === "" ? Date.now() : Date.parse(text));
}

/** client-node leaves MicroTime fields as the server's string (it does not know the type). */
function timeText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  return "";
}
