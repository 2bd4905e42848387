// Gateway API status conditions (metav1.Condition without the transition time: status here is
// computed afresh from the sources, so it stays a pure function of them).

export const CONTROLLER_NAME = "meshgate.io/gateway-controller";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  /** The object's metadata.generation the condition was computed from. */
  observedGeneration: number;
}

export function condition(
  type: string,
  status: boolean,
  reason: string,
  message: string,
  observedGeneration: number,
): Condition {
  return { type, status: status ? "True" : "False", reason, message, observedGeneration };
}

/** Is this condition one a reader must act on? Conflicted is the one negative-polarity type. */
export function isProblem(c: Condition): boolean {
  return c.type === "Conflicted" ? c.status === "True" : c.status === "False";
}

export function conditionStatus(conditions: readonly Condition[], type: string): string {
  return conditions.find((c) => c.type === type)?.status ?? "-";
}
