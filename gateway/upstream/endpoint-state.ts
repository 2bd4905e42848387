// Runtime state of one upstream endpoint. ClusterState carries the object over to the next
// Snapshot while address:port stays, so in-flight counts and ejections survive a config push.
import type { Endpoint } from "../snapshot.js";

export class EndpointState {
  /** "address:port": the identity that decides reuse across Snapshots. */
  readonly key: string;
  /** Requests in flight to this endpoint; the proxy increments and decrements it. */
  active = 0;
  consecutiveFailures = 0;
  /** Epoch ms until which the endpoint is ejected; 0 when admitted. */
  ejectedUntil = 0;
  /** Times ejected so far: each ejection lasts longer than the one before. */
  ejections = 0;
  /** When the last ejection ran out (epoch ms): a long healthy stretch earns back-off steps back. */
  readmittedAt = 0;

  constructor(public endpoint: Endpoint) {
    this.key = endpointKey(endpoint);
  }
}

export function endpointKey(endpoint: Pick<Endpoint, "address" | "port">): string {
  return `${endpoint.address}:${endpoint.port}`;
}
