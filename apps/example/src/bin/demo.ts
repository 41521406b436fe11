// Entry of `npm run demo` (scripts/demo.mjs runs the built copy, dist/demo.js).
import { main } from "../demo/cli.js";

process.exit(await main(process.argv.slice(2)));
