// Issue 11's proofs on SQLite (better-sqlite3 12, a database file shared by the test's DataSources).
import { defineProofSuite } from "./support/proof-suite.js";

defineProofSuite("sqlite");
