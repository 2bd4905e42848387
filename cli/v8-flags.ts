// The gateway's V8 settings, imported first by cli.ts so they apply before any data-plane code
// is compiled; worker processes import the same module first (gateway/hosts/process-entry.ts).
import "../gateway/v8-flags.js";
