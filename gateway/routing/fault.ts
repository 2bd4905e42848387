// Fault injection (BackendTrafficPolicy faultInjection), compiled once per Snapshot: shares as
// fractions, ready for one draw each per request.
import type { FaultConfig } from "../snapshot.js";

export interface CompiledFault {
  /** "namespace/name" of the policy. */
  readonly policy: string;
  readonly delayMs: number;
  /** 0..1; 0 when the policy has no delay. */
  readonly delayShare: number;
  readonly abortStatus: number;
  /** 0..1; 0 when the policy has no abort. */
  readonly abortShare: number;
}

/** What befalls one request: `delayMs` 0 for none, `abortStatus` 0 for none. */
export interface FaultDraw {
  delayMs: number;
  abortStatus: number;
}

export function compileFault(cfg: FaultConfig | undefined): CompiledFault | undefined {
  if (cfg === undefined) return undefined;
  const delayShare = cfg.delay === undefined || cfg.delay.delayMs === 0 ? 0 : cfg.delay.percentage / 100;
  const abortShare = cfg.abort === undefined ? 0 : cfg.abort.percentage / 100;
  // A fault that can never happen costs its routes nothing.
  if (delayShare === 0 && abortShare === 0) return undefined;
  return {
    policy: cfg.policy,
    delayMs: cfg.delay?.delayMs ?? 0,
    delayShare,
    abortStatus: cfg.abort?.status ?? 0,
    abortShare,
  };
}

/**
 * One independent draw for the delay and one for the abort, `random` in [0, 1): a share of 1
 * always applies (random < 1), a share of 0 never (and draws nothing).
 */
export function drawFault(fault: CompiledFault, random: () => number = Math.random): FaultDraw {
  const delayMs = fault.delayShare > 0 && random() < fault.delayShare ? fault.delayMs : 0;
  const abortStatus = fault.abortShare > 0 && random() < fault.abortShare ? fault.abortStatus : 0;
  return { delayMs, abortStatus };
}
