// `node dist/test/bench/balancer-bench.js`: nanoseconds per Balancer.pick() for each load
// balancer over 10 and 100 endpoints of mixed weights, healthy and with a fifth ejected.
import type { LoadBalancerConfig } from "../../gateway/snapshot.js";
import { createBalancer, type PickContext } from "../../gateway/upstream/balancer.js";
import { EndpointState } from "../../gateway/upstream/endpoint-state.js";

const PICKS = Number(process.env["BENCH_PICKS"] ?? 2_000_000);

const configs: [string, LoadBalancerConfig][] = [
  ["RoundRobin", { type: "RoundRobin" }],
  ["LeastRequest", { type: "LeastRequest", choices: 2 }],
  ["Random", { type: "Random" }],
  ["ConsistentHash(header)", { type: "ConsistentHash", hashOn: { type: "Header", name: "x-user" } }],
  ["ConsistentHash(cookie)", { type: "ConsistentHash", hashOn: { type: "Cookie", name: "sid" } }],
];

function cluster(size: number, ejectedShare: number): EndpointState[] {
  return Array.from({ length: size }, (_, i) => {
    const ep = new EndpointState({ address: `10.1.${i >> 8}.${i & 255}`, port: 8080, weight: 1 + (i % 3) });
    ep.active = i % 7;
    // Ejected far into the future, so the run never sees one come back.
    if (i < size * ejectedShare) ep.ejectedUntil = Number.MAX_SAFE_INTEGER;
    return ep;
  });
}

/** A fixed request mix, built ahead so the loop measures pick() alone. */
const requests: PickContext[] = Array.from({ length: 4096 }, (_, i) => ({
  headers: { "x-user": `user-${i}`, cookie: `theme=dark; sid=s${i * 7919}; lang=en` },
  sourceIp: `198.51.100.${i & 255}`,
}));

function nsPerPick(cfg: LoadBalancerConfig, size: number, ejectedShare: number): number {
  const lb = createBalancer(cfg, cluster(size, ejectedShare));
  const now = Date.now();
  let sink = 0;
  const run = (picks: number) => {
    for (let i = 0; i < picks; i++) sink += lb.pick(requests[i & 4095]!, now)?.active ?? 0;
  };
  run(PICKS / 10);
  const samples: number[] = [];
  for (let s = 0; s < 5; s++) {
    const start = process.hrtime.bigint();
    run(PICKS / 5);
    samples.push(Number(process.hrtime.bigint() - start) / (PICKS / 5));
  }
  if (sink < 0) console.log(sink);
  samples.sort((a, b) => a - b);
  return samples[2] ?? Number.NaN;
}

console.log("balancer                   endpoints  healthy ns/pick  20% ejected ns/pick");
for (const [name, cfg] of configs) {
  for (const size of [10, 100]) {
    const healthy = nsPerPick(cfg, size, 0).toFixed(1);
    const ejected = nsPerPick(cfg, size, 0.2).toFixed(1);
    const row = [name.padEnd(26), String(size).padStart(9), healthy.padStart(16), ejected.padStart(20)];
    console.log(row.join(" "));
  }
}
