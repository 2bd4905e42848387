// Header values and request targets are kept as byte strings inside the gateway: one char per
// wire byte (code points 0-255), so what is checked is exactly what `latin1` writes upstream.
// uWebSockets.js hands request text over decoded as UTF-8 and encodes what it writes as UTF-8;
// these helpers convert at that boundary. Without them U+010D in a header value was written
// upstream as its low byte, 0x0D (CR), and a value could start a request of its own.

/** Anything but visible ASCII, space and tab: the value needs a closer look. */
const NOT_PLAIN = /[^\t\x20-\x7e]/;
/**
 * Never allowed in a field value (RFC 9110 5.5): controls other than tab, DEL. U+FFFD is how uWS
 * reports bytes that were not UTF-8; the original bytes are lost, so they cannot be forwarded.
 */
// eslint-disable-next-line no-control-regex -- finding control bytes is the point
const FORBIDDEN = /[\x00-\x08\x0a-\x1f\x7f\ufffd]/;
// eslint-disable-next-line no-control-regex -- finding control bytes is the point
const HIGH = /[^\x00-\x7f]/;

/** The result of `wireValue`: the byte string to forward, or undefined when it must be refused. */
export function wireValue(decoded: string): string | undefined {
  if (!NOT_PLAIN.test(decoded)) return decoded;
  if (FORBIDDEN.test(decoded)) return undefined;
  return Buffer.from(decoded, "utf8").toString("latin1");
}

/** Text from configuration (a header value a filter sets) as the bytes it is sent as: UTF-8. */
export function configBytes(text: string): string {
  return HIGH.test(text) ? Buffer.from(text, "utf8").toString("latin1") : text;
}

/** A byte string as uWS must be given it: a string is encoded as UTF-8, so high bytes go as bytes. */
export function uwsBytes(value: string): string | Buffer {
  return HIGH.test(value) ? Buffer.from(value, "latin1") : value;
}

// eslint-disable-next-line no-control-regex -- a range from 0: every ASCII byte
const NON_ASCII_RUN = /[^\x00-\x7f]+/g;

/**
 * A request target's non-ASCII text (valid UTF-8 on the wire) as percent-encoded UTF-8, as
 * RFC 3986 maps an IRI to a URI and Envoy's path canonicaliser does: most origins (llhttp, Node's
 * parser, among them) refuse raw bytes above 0x7F in a target, and the encoded form names the same
 * resource. The input has been checked (no U+FFFD, no lone surrogate).
 */
export function encodeTarget(text: string): string {
  return HIGH.test(text) ? text.replace(NON_ASCII_RUN, encodeURIComponent) : text;
}
