/**
 * Read-repair is one use of the copy primitive: see `copy.ts` for the protocol and why it is safe. This module keeps
 * the names the package index exports.
 */
export type { CopyContext as RepairContext, RepairOutcome } from "./copy.js";
export { isPlaceholder, returnStaleToken } from "./copy.js";
