// The two pure decisions behind SNI on a shared HTTPS port: which listener a client's spelling
// of a server name stands for (aliases), and whether a request's Host leaves the listener its
// handshake chose (421).
import test from "ava";
import { isMisdirected, type ListenerHostnames } from "../../../gateway/tls/misdirected.js";
import { listenerPattern } from "../../../gateway/tls/server-names.js";
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

test("an alias stands for the listener the name matches in lower case without a trailing dot", (t) => {
  const wanted = new Map([["a.test", 1], ["*.w.test", 2]]);
  t.is(listenerPattern("A.TEST", wanted), "a.test");
  t.is(listenerPattern("A.Test.", wanted), "a.test");
  t.is(listenerPattern("X.W.TEST", wanted), "*.w.test");
  t.is(listenerPattern("x.W.test.", wanted), "*.w.test");
  // As uWS matches wildcards: one label in front of the suffix, never the suffix itself.
  t.is(listenerPattern("Y.X.W.TEST", wanted), undefined);
  t.is(listenerPattern("W.TEST", wanted), undefined);
  for (const name of ["B.TEST", "A.TEST..", "A_.TEST", "a.test\0.evil", "", ".", "-a.test"]) {
    t.is(listenerPattern(name, wanted), undefined, JSON.stringify(name));
  }
});
