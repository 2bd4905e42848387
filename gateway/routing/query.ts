// Query parameters for route matching, parsed only when an entry in play asks for one.

let parsedRaw = "";
let parsed = new Map<string, string>();

/**
 * The first value of a query parameter (percent- and "+"-decoded), undefined when absent.
 * The parse is a pure function of the raw query, so the last one is kept: every query
 * condition of one request, across all entries tried, costs a single parse.
 */
export function firstQueryValue(rawQuery: string, name: string): string | undefined {
  if (rawQuery !== parsedRaw) {
    parsed = parseQuery(rawQuery);
    parsedRaw = rawQuery;
  }
  return parsed.get(name);
}

function parseQuery(raw: string): Map<string, string> {
  const params = new Map<string, string>();
  let start = 0;
  while (start <= raw.length) {
    let end = raw.indexOf("&", start);
    if (end === -1) end = raw.length;
    if (end > start) {
      const eq = raw.indexOf("=", start);
      const split = eq === -1 || eq > end ? end : eq;
      const key = decode(raw.slice(start, split));
      // The first value of a repeated parameter counts, as the Gateway API recommends.
      if (!params.has(key)) params.set(key, split === end ? "" : decode(raw.slice(split + 1, end)));
    }
    start = end + 1;
  }
  return params;
}

function decode(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  const spaced = s.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A malformed escape is compared as sent rather than failing the request.
    return spaced;
  }
}
