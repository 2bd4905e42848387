// Runtime state of one upstream endpoint, carried across Snapshots while its address stays.
import type { Endpoint } from "../snapshot.js";

export class EndpointState {
  readonly key: string;
  /** Requests in flight to this endpoint. */
  active = 0;
  consecutiveFailures = 0;
  /** Epoch ms until which the endpoint is ejected; 0 when admitted. */
  ejectedUntil = 0;
  /** Times ejected so far, for the growing back-off. */
  ejections = 0;
  /** Smooth weighted round robin's running weight. */
  currentWeight = 0;

  constructor(public endpoint: Endpoint) {
    this.key = `${endpoint.address}:${endpoint.port}`;
  }
}
