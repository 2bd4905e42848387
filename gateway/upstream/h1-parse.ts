// Parses an HTTP/1.x response head from a buffer that may hold only part of it.
import type { IncomingHttpHeaders } from "node:http";

export interface ResponseHead {
  status: number;
  reason: string;
  headers: IncomingHttpHeaders;
  /** The connection may carry another request afterwards (before body framing is considered). */
  keepAlive: boolean;
  /** Bytes of `buf` the head used, including the blank line. */
  length: number;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** "incomplete" until the blank line arrives; a string names what is malformed. */
export function parseHead(buf: Buffer, maxBytes: number): ResponseHead | "incomplete" | string {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length > maxBytes ? "response head too large" : "incomplete";
  if (end > maxBytes) return "response head too large";
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const statusLine = STATUS_LINE.exec(lines[0] ?? "");
  if (statusLine === null) return "bad status line";
  const headers: IncomingHttpHeaders = {};
  let connection = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const colon = line.indexOf(":");
    if (colon <= 0) return "bad header line";
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return "bad header name";
    const value = line.slice(colon + 1).trim();
    if (name === "set-cookie") {
      const prior = headers["set-cookie"];
      headers["set-cookie"] = prior === undefined ? [value] : [...prior, value];
      continue;
    }
    if (
      name === "content-length" &&
      headers["content-length"] !== undefined &&
      headers["content-length"] !== value
    ) {
      return "conflicting content-length";
    }
    const prior = headers[name];
    headers[name] = prior === undefined || name === "content-length" ? value : `${prior}, ${value}`;
    if (name === "connection") connection = value.toLowerCase();
  }
  const http11 = statusLine[1] === "1";
  const keepAlive = http11 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { status: Number(statusLine[2]), reason: statusLine[3] ?? "", headers, keepAlive, length: end + 4 };
}
