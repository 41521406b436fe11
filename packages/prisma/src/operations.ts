/** The model operations that may be cached: the ones that only read. */
export const READ_OPERATIONS = [
  "findUnique",
  "findUniqueOrThrow",
  "findFirst",
  "findFirstOrThrow",
  "findMany",
  "count",
  "aggregate",
  "groupBy",
] as const;

/** The model operations that write (and so invalidate). */
export const WRITE_OPERATIONS = [
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
  "delete",
  "deleteMany",
] as const;

export type ReadOperation = (typeof READ_OPERATIONS)[number];
export type WriteOperation = (typeof WRITE_OPERATIONS)[number];

const reads = new Set<string>(READ_OPERATIONS);
const writes = new Set<string>(WRITE_OPERATIONS);

export const isReadOperation = (operation: string): operation is ReadOperation => reads.has(operation);
export const isWriteOperation = (operation: string): operation is WriteOperation => writes.has(operation);

/** Raw statements: the extension cannot tell what they change. */
export const RAW_WRITE_OPERATIONS = ["$executeRaw", "$executeRawUnsafe"] as const;
