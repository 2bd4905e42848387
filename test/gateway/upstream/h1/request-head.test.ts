// Request heads: the caller's headers as given, Host only when missing, body framing, and no
// way for a CR or LF to start a second request.
import test from "ava";
import { type BodyFraming, serializeRequestHead } from "../../../../gateway/upstream/h1/request-head.js";

function head(method: string, path: string, headers: Record<string, string>, hasBody: boolean) {
  const framing: BodyFraming = { contentLength: -2, chunked: true };
  const result = serializeRequestHead(method, path, headers, "10.0.0.1:8080", hasBody, framing);
  return { result, framing };
}

test("a GET keeps the caller's headers and Host as given", (t) => {
  const { result, framing } = head("GET", "/a?b=1", { host: "example.com", "x-id": "7" }, false);
  t.is(result, "GET /a?b=1 HTTP/1.1\r\nhost: example.com\r\nx-id: 7\r\n\r\n");
  t.deepEqual(framing, { contentLength: -1, chunked: false });
});

test("Host is added from the endpoint only when the caller gave none", (t) => {
  t.is(
    head("GET", "/", { accept: "*/*" }, false).result,
    "GET / HTTP/1.1\r\naccept: */*\r\nhost: 10.0.0.1:8080\r\n\r\n",
  );
  t.is(head("GET", "/", { Host: "mixed.case" }, false).result, "GET / HTTP/1.1\r\nHost: mixed.case\r\n\r\n");
});

test("a body with content-length is sent as is; without it, chunked", (t) => {
  const sized = head("PUT", "/", { host: "h", "content-length": "12" }, true);
  t.is(sized.result, "PUT / HTTP/1.1\r\nhost: h\r\ncontent-length: 12\r\n\r\n");
  t.deepEqual(sized.framing, { contentLength: 12, chunked: false });
  const streamed = head("POST", "/", { host: "h" }, true);
  t.is(streamed.result, "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n");
  t.deepEqual(streamed.framing, { contentLength: -1, chunked: true });
});

test("a POST without a body states content-length 0; a GET does not", (t) => {
  t.is(head("POST", "/", { host: "h" }, false).result, "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
  t.is(head("DELETE", "/", { host: "h" }, false).result, "DELETE / HTTP/1.1\r\nhost: h\r\n\r\n");
});

test("CR or LF in a header value, a header name or the path is refused", (t) => {
  for (const [path, headers] of [
    ["/", { "x-a": "1\r\nx-injected: 1" }],
    ["/", { "x-a": "1\nGET /smuggled HTTP/1.1" }],
    ["/", { "x-a": "1\r" }],
    ["/", { "x-a\r\nx-b": "1" }],
    ["/ HTTP/1.1\r\nx: y\r\n\r\nGET /", {}],
  ] as const) {
    const { result } = head("GET", path, headers, false);
    t.true(result instanceof Error, JSON.stringify(headers));
    t.is((result as Error & { code: string }).code, "UND_ERR_INVALID_ARG");
  }
});

test("an invalid content-length, or one without a body, is refused", (t) => {
  const code = (r: { result: unknown }) => (r.result as Error & { code: string }).code;
  t.is(code(head("POST", "/", { "content-length": "1e3" }, true)), "UND_ERR_INVALID_ARG");
  t.is(code(head("POST", "/", { "content-length": "5" }, false)), "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH");
});
