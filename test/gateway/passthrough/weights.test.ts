// Weighted backends over real TLS connections: the split follows the weights, weight 0 gets none.
import test from "ava";
import { makeCa } from "../../support/tls-certs.js";
import { route, startGateway, startTlsBackend, tlsProbe, to } from "./harness.js";

const CONNECTIONS = 200;
const AT_ONCE = 20;

test("200 connections split 1:3 between two backends, none to weight 0", async (t) => {
  const ca = await makeCa();
  const backends = await Promise.all(
    ["light", "heavy", "zero"].map((label) => startTlsBackend(ca, label, ["w.example.com"])),
  );
  t.teardown(() => Promise.all(backends.map((b) => b.close())));
  const [light, heavy, zero] = backends as [(typeof backends)[0], (typeof backends)[0], (typeof backends)[0]];
  const gateway = await startGateway([route("ns/w", ["w.example.com"], to(light, 1), to(heavy, 3), to(zero, 0))]);
  t.teardown(() => gateway.listener.close(0));

  const counts = new Map<string, number>();
  for (let done = 0; done < CONNECTIONS; done += AT_ONCE) {
    const probes = await Promise.all(Array.from({ length: AT_ONCE }, () => tlsProbe(gateway.port, "w.example.com", ca)));
    for (const probe of probes) {
      const key = probe.ok ? probe.banner : "failed";
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const lightCount = counts.get("light") ?? 0;
  t.is(counts.get("failed"), undefined);
  t.is(counts.get("zero"), undefined);
  t.is(lightCount + (counts.get("heavy") ?? 0), CONNECTIONS);
  // Expected 50 of 200, standard deviation about 6: four deviations either side.
  t.true(lightCount >= 25 && lightCount <= 75, `weight 1 of 4 got ${lightCount} of ${CONNECTIONS}`);
});
