/** How Keyv 6 describes one adapter method. */
export interface KeyvMethodCapability {
  readonly exists: boolean;
  readonly methodType: "async" | "sync" | "none";
}

/**
 * The descriptor Keyv 6 reads from `store.capabilities` (its `KeyvStorageCapability`, declared here as the subset
 * this package provides so that it does not import Keyv 6's types: `keyv` is a peer dependency, 5 or 6).
 * `expires: true` tells Keyv 6 to use the store directly, with absolute expiries, instead of wrapping it in its
 * bridge.
 */
export interface KeyvMcpairCapabilities {
  readonly compatible: true;
  readonly store: "keyvStorage";
  readonly expires: true;
  readonly methods: Readonly<Record<KeyvStorageMethodName, KeyvMethodCapability>>;
}

export type KeyvStorageMethodName =
  | "get"
  | "getMany"
  | "has"
  | "hasMany"
  | "set"
  | "setMany"
  | "delete"
  | "deleteMany"
  | "clear"
  | "disconnect"
  | "iterator";

const ASYNC: KeyvMethodCapability = Object.freeze({ exists: true, methodType: "async" });
const NONE: KeyvMethodCapability = Object.freeze({ exists: false, methodType: "none" });

/** What `KeyvMcpair` offers: every storage method as a native `async` function, and no `iterator()`. */
export const CAPABILITIES: KeyvMcpairCapabilities = Object.freeze({
  compatible: true,
  store: "keyvStorage",
  expires: true,
  methods: Object.freeze({
    get: ASYNC,
    getMany: ASYNC,
    has: ASYNC,
    hasMany: ASYNC,
    set: ASYNC,
    setMany: ASYNC,
    delete: ASYNC,
    deleteMany: ASYNC,
    clear: ASYNC,
    disconnect: ASYNC,
    iterator: NONE,
  }),
});
