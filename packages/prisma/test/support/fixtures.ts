// What every real-server test file starts with: a database of each kind, three memcached servers (replicas 2) and
// the extended client, plus helpers to count the statements a block of code sends to the database.
import { randomBytes } from "node:crypto";
import type { PairClient } from "@mcpair/core";
import { type McpairCacheOptions, mcpairCache } from "../../src/index.js";
import type { BaseClient, QueryCounter } from "./databases.js";

/** A namespace no other test file (or earlier run) shares. */
export const freshNamespace = (label: string): string => `${label}-${randomBytes(4).toString("hex")}`;

export function extend(
  prisma: BaseClient,
  client: PairClient,
  options: Omit<McpairCacheOptions, "client"> = {},
) {
  return prisma.$extends(mcpairCache({ client, namespace: freshNamespace("t"), ...options }));
}

export type Extended = ReturnType<typeof extend>;

/** Runs `fn` and returns its result with the number of SELECT statements it sent. */
export async function selects<T>(queries: QueryCounter, fn: () => Promise<T>): Promise<[T, number]> {
  const before = queries.selects;
  const value = await fn();
  return [value, queries.selects - before];
}

/** A few users with posts, comments and a profile. */
export async function seed(prisma: BaseClient, label: string): Promise<{ userIds: number[] }> {
  const userIds: number[] = [];
  for (let i = 0; i < 3; i++) {
    const u = await prisma.user.create({
      data: {
        email: `${label}-${i}@example.com`,
        name: `${label} ${i}`,
        balance: "10.5",
        visits: BigInt(i),
        profile: { create: { bio: `bio ${i}` } },
        posts: { create: [{ title: `${label} post ${i}`, comments: { create: [{ body: "first" }] } }] },
      },
    });
    userIds.push(u.id);
  }
  return { userIds };
}
