// Once before the suite (vitest globalSetup): the Prisma clients (generated offline) and the PostgreSQL database.
import { generatePrismaClients } from "../../scripts/generate-prisma.js";
import { ensurePostgresDatabase } from "./postgres.js";

export default async function setup(): Promise<void> {
  generatePrismaClients();
  await ensurePostgresDatabase();
}
