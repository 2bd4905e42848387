// `meshgate status`: the conditions the controller computes for a folder, then what the running
// gateway serves where it differs. Exit 1 when anything is refused or not programmed.
import { realpathSync } from "node:fs";
import { reconcileLoaded } from "../controller/reconcile.js";
import { loadFolder } from "../controller/provider/file.js";
import { reportProblems } from "../controller/status/problem-list.js";
import { formatStatusTable } from "../controller/status/report.js";
import { DEFAULT_ADMIN } from "./commands.js";
import { checkConfigFolder, emptyFolderMessage, holdsNoGatewayApi } from "./config-folder.js";
import { differences, fetchLiveStatus, formatLive, liveHasProblems } from "./live-status.js";

export interface StatusOptions {
  configDir: string;
  json: boolean;
  /** undefined: try DEFAULT_ADMIN and skip it quietly when nothing answers. */
  admin: string | undefined;
  live: boolean;
  out(text: string): void;
  err(text: string): void;
}

/** How long the default admin address may take to answer before the live part is skipped. */
const LIVE_TIMEOUT_MS = 500;

export async function statusCommand(options: StatusOptions): Promise<number> {
  const { configDir } = options;
  checkConfigFolder(configDir);
  const loaded = await loadFolder(configDir);
  const report = reconcileLoaded(loaded, 1, new Map()).translation.status;
  const empty = holdsNoGatewayApi(loaded.resources, loaded.errors);
  let failed = empty || reportProblems(report).length > 0;

  const address = options.admin ?? DEFAULT_ADMIN;
  const answer = options.live ? await fetchLiveStatus(address, LIVE_TIMEOUT_MS) : undefined;
  let live: { text: string; json: object } | undefined;
  if (answer !== undefined && !answer.ok && options.admin !== undefined) {
    options.err(`meshgate: no gateway status at ${address}: ${answer.reason}\n`);
    failed = true;
  }
  if (answer?.ok === true) {
    const served = answer.status;
    if (served.config !== undefined && served.config !== realpathSync(configDir)) {
      // Another folder's gateway: comparing would show every object as a difference.
      live = {
        text: `LIVE: the gateway at ${address} serves ${served.config}, not this folder; not compared\n`,
        json: { address, config: served.config, compared: false },
      };
    } else {
      const diffs = differences(report, served);
      failed ||= liveHasProblems(served);
      live = {
        text: formatLive(address, served, diffs),
        json: { address, version: served.version, servingVersion: served.servingVersion ?? null, refused: served.refused ?? [], differences: diffs },
      };
    }
  }

  if (options.json) {
    options.out(JSON.stringify({ ...report, ...(live === undefined ? {} : { live: live.json }) }, null, 2) + "\n");
  } else {
    if (empty) options.out(`${emptyFolderMessage(configDir)}\n\n`);
    options.out(formatStatusTable(report));
    if (live !== undefined) options.out(`\n${live.text}`);
  }
  return failed ? 1 : 0;
}
