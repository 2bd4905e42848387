// Whether a request's Host leaves the listener its handshake's SNI chose (421), decided without
// sockets.
import test from "ava";
import { isMisdirected, type ListenerHostnames } from "../../../gateway/tls/misdirected.js";
import { HostnameTable, parseHostPattern } from "../../../gateway/routing/hostnames.js";

/** The listener hostnames of a port, looked up as the router does. */
function listeners(...hostnames: (string | undefined)[]): ListenerHostnames {
  const table = new HostnameTable<string>();
  for (const h of hostnames) table.add(parseHostPattern(h), h ?? "*");
  return { listenerHostname: (host) => table.lookup(host) };
}

test("a Host served by the listener SNI chose is not misdirected; one served by another listener is", (t) => {
  const port = listeners("a.test", "b.test", "*.w.test", "x.w.test");
  t.false(isMisdirected("a.test", "a.test", port));
  t.true(isMisdirected("a.test", "b.test", port));
  t.true(isMisdirected("b.test", "a.test", port));
  // A wildcard covers any depth; a more specific listener takes its own names.
  t.false(isMisdirected("*.w.test", "y.w.test", port));
  t.false(isMisdirected("*.w.test", "deep.y.w.test", port));
  t.true(isMisdirected("*.w.test", "x.w.test", port));
  t.true(isMisdirected("x.w.test", "y.w.test", port));
});

test("a trailing dot in Host names the same host; a Host no listener serves is left to routing (404)", (t) => {
  const port = listeners("a.test", "b.test");
  t.false(isMisdirected("a.test", "a.test.", port));
  t.true(isMisdirected("a.test", "b.test.", port));
  t.false(isMisdirected("a.test", "nobody.test", port));
});

test("a listener without a hostname serves every other Host: reaching it from a named one is misdirected", (t) => {
  const port = listeners("a.test", undefined);
  t.true(isMisdirected("a.test", "other.test", port));
  t.true(isMisdirected("a.test", "10.0.0.1", port));
  t.false(isMisdirected("A.Test", "a.test", port), "patterns compare without case");
});
