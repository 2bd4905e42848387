// The API server refuses EndpointSlice addresses in 127.0.0.0/8 ("may not be in the loopback
// range"), and no kubelet runs pods here: test backends listen on an address from the RFC 2544
// benchmarking range added to the loopback interface, so traffic still never leaves the machine.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ENDPOINT_ADDRESS = "198.18.0.1";

let added: Promise<string> | undefined;

/** Adds ENDPOINT_ADDRESS/32 to lo once per process (idempotent; needs root, as CI runs). */
export function endpointAddress(): Promise<string> {
  added ??= run("ip", ["addr", "replace", `${ENDPOINT_ADDRESS}/32`, "dev", "lo"]).then(
    () => ENDPOINT_ADDRESS,
    (err: Error) => {
      throw new Error(`cannot add ${ENDPOINT_ADDRESS}/32 to lo for EndpointSlice backends (root needed): ${err.message}`);
    },
  );
  return added;
}
