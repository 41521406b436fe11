// Issue 11's proofs on PostgreSQL (127.0.0.1:5432, database mcpair_typeorm_test, created if missing).
import { defineProofSuite } from "./support/proof-suite.js";

defineProofSuite("postgres");
