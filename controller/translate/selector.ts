// Kubernetes label selectors, as allowedRoutes.namespaces.selector uses them.
import type { LabelSelector } from "../resources/index.js";

export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) if (labels[key] !== value) return false;
  return selector.matchExpressions.every((e) => {
    const value = Object.hasOwn(labels, e.key) ? labels[e.key] : undefined;
    if (e.operator === "In") return value !== undefined && e.values.includes(value);
    if (e.operator === "NotIn") return value === undefined || !e.values.includes(value);
    if (e.operator === "Exists") return value !== undefined;
    return value === undefined; // DoesNotExist
  });
}
