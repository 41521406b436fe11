// Construction on real servers: a borrowed client stays open after disconnect(), an owned one is closed; options are
// validated with typed errors that name the problem; createKeyv builds the installed Keyv (5.6 in this workspace;
// create-keyv6.test.ts runs it against Keyv 6).
import { InvalidArgumentError } from "@mcpair/core";
import { useMemcachedCleanup } from "@mcpair/test-utils";
import Keyv from "keyv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import KeyvMcpairDefault, { createKeyv, KeyvMcpair } from "../src/index.js";
import { type Cluster, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

describe("new KeyvMcpair(...)", () => {
  it("is also the default export", () => {
    expect(KeyvMcpairDefault).toBe(KeyvMcpair);
  });

  it("borrows a client: disconnect() leaves it open", async () => {
    const store = new KeyvMcpair(cluster.client, { namespace: unique("borrow") });
    expect(store.client).toBe(cluster.client);
    await store.set("k", "v");
    await store.disconnect();
    expect(await cluster.client.namespace(store.namespace!).get("k")).toBe("v");
    expect(await store.get("k")).toBe("v");
  });

  it("owns a client made from options: Keyv's disconnect() closes it; later reads miss, writes reject", async () => {
    const store = new KeyvMcpair({
      servers: cluster.addresses,
      replicas: 2,
      timeout: 2000,
      namespace: "owned",
    });
    expect(store.namespace).toBe("owned");
    const keyv = new Keyv({ store });
    // Keyv 5 always sets its own namespace ("keyv" by default), replacing the option.
    expect(store.namespace).toBe("keyv");
    const errors: unknown[] = [];
    keyv.on("error", (error: unknown) => errors.push(error));
    const key = unique("k");
    await keyv.set(key, "v");
    expect(await keyv.get(key)).toBe("v");
    await keyv.disconnect();
    await store.disconnect(); // idempotent
    expect(await store.get(key)).toBeUndefined();
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["ERR_MCPAIR_CLIENT_CLOSED"]);
    await expect(store.set(key, "w")).rejects.toMatchObject({ code: "ERR_MCPAIR_CLIENT_CLOSED" });
    // The data is still on the servers: only the store's own client was closed.
    expect(await cluster.client.namespace("keyv").get(`keyv:${key}`)).toBeTypeOf("string");
  });

  it("validates its arguments with InvalidArgumentError", () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => new KeyvMcpair(undefined as never), /CacheClient .* or options with `servers`/],
      [() => new KeyvMcpair(42 as never), /CacheClient/],
      [() => new KeyvMcpair({} as never), /"servers" must be a non-empty array/],
      [() => new KeyvMcpair({ servers: [] }), /"servers" must be a non-empty array/],
      [
        () => new KeyvMcpair({ servers: cluster.addresses, contract: 7 as never }),
        /"contract" must be "auto", 5 or 6/,
      ],
      [() => new KeyvMcpair(cluster.client, { contract: "6" as never }), /"contract" must be "auto", 5 or 6/],
      [() => new KeyvMcpair(cluster.client, { namespace: 1 as never }), /"namespace" must be a string/],
      // The client's own rules for names apply at once, not on the first call.
      [() => new KeyvMcpair(cluster.client, { namespace: "mcpair" }), /reserved/],
      [() => new Keyv({ store: new KeyvMcpair(cluster.client), namespace: "mcpair" }), /reserved/],
      [() => new KeyvMcpair({ servers: cluster.addresses } as never, {}), /there is no second argument/],
      [() => new KeyvMcpair({ servers: cluster.addresses, replicas: 0 }), /"replicas"/],
      [
        () => {
          new KeyvMcpair(cluster.client).namespace = {} as never;
        },
        /KeyvMcpair.namespace must be a string/,
      ],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(InvalidArgumentError);
      expect(make).toThrow(message);
    }
  });

  it("rejects keys and entries that are not strings / objects", async () => {
    const store = new KeyvMcpair(cluster.client);
    await expect(store.get(1 as never)).rejects.toThrow(/keys must be strings/);
    await expect(store.getMany("k" as never)).rejects.toThrow(/keys must be an array/);
    await expect(store.setMany([null] as never)).rejects.toThrow(/entry 0 must be a \{ key, value \} object/);
    await expect(store.set("k", "v", Number.NaN)).rejects.toMatchObject({ code: "ERR_MCPAIR_INVALID_TTL" });
  });
});

describe("createKeyv", () => {
  it("builds the installed Keyv over an owned store; disconnect() closes it", async () => {
    const keyv = createKeyv({ servers: cluster.addresses, replicas: 2 }, { namespace: unique("ck") });
    expect(keyv).toBeInstanceOf(Keyv);
    expect(keyv.store).toBeInstanceOf(KeyvMcpair);
    expect((keyv.store as KeyvMcpair).contract).toBe(5);
    await keyv.set("k", { a: 1 }, 60_000);
    expect(await keyv.get("k")).toEqual({ a: 1 });
    await keyv.disconnect();
    await expect((keyv.store as KeyvMcpair).client.get("x")).rejects.toMatchObject({
      code: "ERR_MCPAIR_CLIENT_CLOSED",
    });
  });

  it("over a borrowed client, which stays open", async () => {
    const keyv = createKeyv(cluster.client, { namespace: unique("ck") });
    await keyv.set("k", 1);
    await keyv.disconnect();
    expect(await keyv.get("k")).toBe(1);
  });
});
