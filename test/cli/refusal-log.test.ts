// Refused objects in the log from real translations: logged once at warn while a reload keeps
// seeing them, at info once they are gone, again at warn when their reason changes.
import test from "ava";
import pino from "pino";
import { RefusalLog } from "../../cli/refusal-log.js";
import { GATEWAY_CLASS, gateway, httpRoute, run } from "../support/controller-yaml.js";
import { LINE_OPTIONS } from "../../gateway/telemetry/log-lines.js";

function capture(): { log: pino.Logger; lines(): Record<string, unknown>[] } {
  let text = "";
  const log = pino({ ...LINE_OPTIONS, base: null }, { write: (s: string) => (text += s) });
  return { log, lines: () => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const base = `${GATEWAY_CLASS}${gateway("edge", "\n  - {name: http, protocol: HTTP, port: 8080}")}`;
const routeTo = (parent: string) => httpRoute("app", `parentRefs: [{name: ${parent}}]`);

test("a route refused by its parent: warn once over reloads, info when fixed, warn again when it breaks another way", (t) => {
  const { log, lines } = capture();
  const refusals = new RefusalLog(log);
  const broken = run(`${base}${routeTo("nowhere")}`).status;
  refusals.seen(broken);
  refusals.seen(broken);
  t.is(lines().length, 1);
  t.like(lines()[0], { level: "warn", msg: "configuration object refused", kind: "HTTPRoute", namespace: "default", name: "app", parent: "default/nowhere" });
  t.regex(String(lines()[0]?.["reason"]), /nowhere/);
  refusals.seen(run(`${base}${routeTo("edge")}`).status);
  t.like(lines()[1], { level: "info", msg: "configuration object no longer refused", name: "app", parent: "default/nowhere" });
  t.is(lines().length, 2);
  refusals.seen(run(`${base}${routeTo("elsewhere")}`).status);
  t.like(lines()[2], { level: "warn", parent: "default/elsewhere" });
  t.is(lines().length, 3);
  t.log(lines().map((l) => JSON.stringify(l)).join("\n"));
});
