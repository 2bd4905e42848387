// `meshgate standalone` terminating TLS from a folder of YAML, checked with openssl s_client as
// an operator would: two hostnames on one port present two certificates; a Secret file
// replaced by rename is served to new connections within a second, without a restart.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { Agent, request } from "undici";
import { startBackend } from "../support/backend.js";
import { tlsSecret } from "../support/controller-yaml.js";
import { basicConfig, configFolder, startMeshgate } from "../support/meshgate.js";
import { freePort, waitFor } from "../support/net.js";
import { makeCa } from "../support/tls-certs.js";

const run = promisify(execFile);

/** What `openssl s_client -servername NAME` shows of the certificate the gateway presents. */
async function presented(port: number, servername: string, caFile: string): Promise<string> {
  // -brief prints the session summary on stderr; stdin closed so it exits after the handshake.
  const { stdout, stderr } = await run(
    "sh",
    ["-c", `openssl s_client -connect 127.0.0.1:${port} -servername ${servername} -CAfile ${caFile} -brief </dev/null`],
    { timeout: 5000 },
  ).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? "", stderr: err.stderr ?? "" }));
  return `${stdout}${stderr}`;
}

/** The serial number of the certificate served for `servername`, upper-case hex. */
async function servedSerial(port: number, servername: string): Promise<string> {
  const { stdout } = await run(
    "sh",
    ["-c", `openssl s_client -connect 127.0.0.1:${port} -servername ${servername} </dev/null 2>/dev/null | openssl x509 -noout -serial`],
    { timeout: 5000 },
  ).catch(() => ({ stdout: "" }));
  return stdout.trim().replace(/^serial=/, "").toUpperCase();
}

function httpsGateway(port: number, backendPort: number): string {
  // The HTTP example's route and backend, with the Gateway's listeners made HTTPS.
  return basicConfig(port, [backendPort]).replace(
    `  - {name: http, protocol: HTTP, port: ${port}}`,
    `  - {name: shop, protocol: HTTPS, port: ${port}, hostname: shop.example.com, tls: {certificateRefs: [{name: shop}]}}
  - {name: api, protocol: HTTPS, port: ${port}, hostname: api.example.com, tls: {certificateRefs: [{name: api}]}}`,
  );
}

test("two hostnames on one HTTPS port present two certificates; a renamed-in Secret is served within a second", async (t) => {
  const ca = await makeCa();
  const shop = await ca.issue(["shop.example.com"]);
  const api = await ca.issue(["api.example.com"]);
  const backend = await startBackend("app");
  const port = await freePort();
  const folder = configFolder();
  const caFile = join(folder.dir, ".ca.pem");
  writeFileSync(caFile, ca.certPem);
  folder.write("gateway.yaml", httpsGateway(port, backend.port));
  folder.write("secrets.yaml", `${tlsSecret("shop", shop.chainPem, shop.keyPem)}${tlsSecret("api", api.chainPem, api.keyPem)}`);
  const gw = await startMeshgate(folder.dir);
  try {
    const shopOut = await presented(port, "shop.example.com", caFile);
    const apiOut = await presented(port, "api.example.com", caFile);
    t.log(`openssl s_client -servername shop.example.com:\n${shopOut.trim()}`);
    t.log(`openssl s_client -servername api.example.com:\n${apiOut.trim()}`);
    t.regex(shopOut, /Peer certificate: CN ?= ?shop\.example\.com/);
    t.regex(apiOut, /Peer certificate: CN ?= ?api\.example\.com/);
    t.regex(shopOut, /Verification: OK/);
    t.regex(shopOut, /Protocol version: TLSv1\.3/);

    const res = await request(`https://127.0.0.1:${port}/hello`, {
      headers: { host: `shop.example.com:${port}` },
      dispatcher: new Agent({ connect: { ca: ca.certPem, servername: "shop.example.com" } }),
    });
    t.is(res.statusCode, 200);
    t.is(JSON.parse(await res.body.text()).headers["x-forwarded-proto"], "https");

    const renewed = await ca.issue(["shop.example.com"]);
    folder.write("secrets.yaml", `${tlsSecret("shop", renewed.chainPem, renewed.keyPem)}${tlsSecret("api", api.chainPem, api.keyPem)}`);
    const changedAt = Date.now();
    const wanted = new X509Certificate(renewed.certPem).serialNumber.toUpperCase();
    await waitFor(async () => (await servedSerial(port, "shop.example.com")) === wanted, 3000, 50);
    const took = Date.now() - changedAt;
    t.log(`the renewed certificate served ${took} ms after the write`);
    t.true(took < 1000, `the renewed certificate took ${took} ms`);
    t.is(await servedSerial(port, "api.example.com"), new X509Certificate(api.certPem).serialNumber.toUpperCase());
  } finally {
    t.is(await gw.stop(), 0);
    await backend.close();
  }
});

