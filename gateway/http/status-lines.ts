// "200 OK"-style status lines for uWS writeStatus, built once.
import { STATUS_CODES } from "node:http";

export const STATUS_LINES: Record<number, string> = {};
for (const [code, text] of Object.entries(STATUS_CODES)) STATUS_LINES[Number(code)] = `${code} ${text ?? ""}`;
