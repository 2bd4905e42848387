// Status written back to Kubernetes: the pure part (a report as the status body of each object,
// computed on its current status) and the writer that applies it while leader.
export { type DesiredStatus, type DesiredStatusOptions, desiredStatuses } from "./desired.js";
export type { GatewayAddress } from "./gateway.js";
export { SUPPORTED_BUNDLE_VERSIONS } from "./gateway-class.js";
export { type CurrentObject, type ObjectRef, objectKey, STATUS_KINDS, type StatusKind } from "./objects.js";
export { StatusWriter, type StatusWriterOptions } from "./writer.js";
export type { WriteResult } from "./write-metrics.js";
