// AcmeIssuer against a real pebble, HTTP-01 answered by a real HTTP server on loopback; and the
// failure kinds for a CA that is down, that rate-limits, or whose challenge is answered wrong.
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import test from "ava";
import { AcmeIssueError, AcmeIssuer } from "../../certs/acme.js";
import { type ChallengeResponder, Http01Responder } from "../../certs/http01.js";
import { freePort } from "../support/net.js";
import { startPebble } from "../support/pebble.js";
import { serveChallenges } from "./challenge-server.js";
import { certificatesOf, verifyChain } from "./chain.js";

const accountKeyPem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();

async function pebbleWithChallengeServer(t: Parameters<typeof startPebble>[0]) {
  const httpPort = await freePort();
  const responder = new Http01Responder();
  const server = await serveChallenges(responder, httpPort);
  t.teardown(() => server.close());
  const pebble = await startPebble(t, { httpPort });
  const issuer = new AcmeIssuer({
    directoryUrl: pebble.directoryUrl,
    caBundlePem: pebble.caBundlePem,
    accountKeyPem: accountKeyPem(),
    email: "ops@example.com",
  });
  return { pebble, responder, server, issuer };
}

test("issues a certificate for made-up names over HTTP-01, chained to pebble's root", async (t) => {
  const { pebble, responder, server, issuer } = await pebbleWithChallengeServer(t);
  const names = ["shop.meshgate.test", "www.shop.meshgate.test"];
  const before = Date.now();

  const cert = await issuer.issue(names, responder);

  t.deepEqual(cert.names, [...names].sort());
  const [leaf, ...intermediates] = certificatesOf(cert.certPem);
  if (leaf === undefined) return t.fail("no leaf");
  t.true(intermediates.length >= 1, "the chain includes pebble's intermediate");
  t.is(leaf.subjectAltName, "DNS:shop.meshgate.test, DNS:www.shop.meshgate.test");
  const root = await pebble.rootsPem();
  t.notThrows(() => verifyChain(cert.certPem, root));
  t.is(intermediates[0]?.fingerprint256, certificatesOf(await pebble.intermediatesPem())[0]?.fingerprint256);
  t.true(leaf.checkPrivateKey(createPrivateKey(cert.keyPem)));
  t.is(createPrivateKey(cert.keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");
  t.deepEqual(cert.notBefore, new Date(leaf.validFrom));
  t.deepEqual(cert.notAfter, new Date(leaf.validTo));
  t.log(`valid ${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()}`);
  // Whole seconds in X.509, and issued a moment after `before`.
  t.true(cert.notBefore.getTime() >= before - 3_600_000 && cert.notBefore.getTime() <= Date.now());
  t.true(cert.notAfter.getTime() > Date.now());
  // Pebble really fetched the answers from our server, and nothing is left behind.
  t.true(server.requests.filter((p) => p.startsWith("/.well-known/acme-challenge/")).length >= 2);
  t.is(responder.pending, 0);
});

test("a wrong challenge answer fails as challenge-failed and the token is withdrawn", async (t) => {
  const { responder, server, issuer } = await pebbleWithChallengeServer(t);
  // Answers with a well-formed key authorization for some other account.
  const wrong: ChallengeResponder = {
    set: (token) => responder.set(token, `${token}.${"A".repeat(43)}`),
    remove: (token) => responder.remove(token),
  };

  const err = await t.throwsAsync(issuer.issue(["bad.meshgate.test"], wrong), { instanceOf: AcmeIssueError });

  t.is(err?.kind, "challenge-failed");
  t.true(server.requests.some((p) => p.startsWith("/.well-known/acme-challenge/")), "pebble did try");
  t.is(responder.pending, 0);
});

test("a CA that is down fails fast as unreachable", async (t) => {
  const port = await freePort();
  const issuer = new AcmeIssuer({ directoryUrl: `https://127.0.0.1:${port}/dir`, accountKeyPem: accountKeyPem() });
  const started = Date.now();

  const err = await t.throwsAsync(issuer.issue(["shop.meshgate.test"], new Http01Responder()), {
    instanceOf: AcmeIssueError,
  });

  t.is(err?.kind, "unreachable");
  t.regex(err?.message ?? "", /ECONNREFUSED/);
  t.true(Date.now() - started < 5000, "no hidden retry ladder");
});

test("a rate limit surfaces at once as rate-limited, with the CA's Retry-After", async (t) => {
  // Just enough of an ACME server to refuse a new account with a rateLimited problem.
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${port}`;
    if (req.url === "/dir") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order` }));
    } else if (req.url === "/nonce") {
      res.writeHead(200, { "replay-nonce": "bm9uY2U" });
      res.end();
    } else {
      req.resume();
      res.writeHead(429, { "content-type": "application/problem+json", "retry-after": "3600" });
      res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new accounts" }));
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const issuer = new AcmeIssuer({ directoryUrl: `http://127.0.0.1:${port}/dir`, accountKeyPem: accountKeyPem() });

  const err = await t.throwsAsync(issuer.issue(["shop.meshgate.test"], new Http01Responder()), {
    instanceOf: AcmeIssueError,
  });

  t.is(err?.kind, "rate-limited");
  t.is(err?.problemType, "urn:ietf:params:acme:error:rateLimited");
  t.is(err?.retryAfterMs, 3_600_000);
  t.regex(err?.message ?? "", /too many new accounts/);
});

test("wildcards are refused before any request, and error messages never carry a private key", async (t) => {
  const issuer = new AcmeIssuer({ directoryUrl: "https://127.0.0.1:1/dir", accountKeyPem: accountKeyPem() });
  const err = await t.throwsAsync(issuer.issue(["*.meshgate.test"], new Http01Responder()));
  t.regex(err?.message ?? "", /DNS-01/);

  const key = accountKeyPem();
  const leaked = new AcmeIssueError("other", `server said: ${key} (sic)`);
  t.false(leaked.message.includes("PRIVATE KEY"));
  t.is(leaked.message, "server said: [private key]\n (sic)");
});
