import { createMemoryHarness, runTransportConformance } from "../src/testing.js";

runTransportConformance("MemoryTransport", async () => createMemoryHarness());
