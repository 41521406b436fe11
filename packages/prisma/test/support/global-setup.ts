// Runs once before the suite (vitest globalSetup): generates the Prisma clients offline and creates the test
// database. Everything a fresh machine needs besides `npm install` and a running PostgreSQL.
import { generateClients } from "../../scripts/generate.js";
import { ensureTestDatabase } from "./postgres.js";

export default async function setup(): Promise<void> {
  generateClients();
  await ensureTestDatabase();
}
