import type { RogueAction, RogueResponder } from "./rogue-server.js";

/** What the rogue servers answer to `version`, so that a client's handshake or health check passes. */
export const ROGUE_VERSION = "VERSION 1.6.18-rogue\r\n";

/** The value every plausible hit carries. */
export const ROGUE_VALUE = "hello";

/** A declared value length no real server sends (1 TiB, far above memcached's 1 GiB item size ceiling). */
export const OVERSIZED_LENGTH = 1_099_511_627_776;

/** Meta flags echoed back as memcached does: opaque `O...` and key `k`. */
function echoedFlags(key: string, flags: string[]): string {
  let out = "";
  for (const flag of flags) {
    if (flag.startsWith("O")) out += ` ${flag}`;
    else if (flag === "k") out += ` k${key}`;
  }
  return out;
}

function isValueRead(command: string): boolean {
  return command === "mg" || command === "get" || command === "gets";
}

/**
 * The answer a healthy memcached could give to `line`: every read is a hit on {@link ROGUE_VALUE}, every write
 * succeeds, `version` answers {@link ROGUE_VERSION}, unknown commands get `ERROR`.
 */
export function plausibleResponse(line: string): string {
  const [command = "", key = "", ...rest] = line.split(" ");
  switch (command) {
    case "mg":
      return rest.includes("v")
        ? `VA ${ROGUE_VALUE.length}${echoedFlags(key, rest)}\r\n${ROGUE_VALUE}\r\n`
        : `HD${echoedFlags(key, rest)}\r\n`;
    case "ms":
    case "md":
      return `HD${echoedFlags(key, rest)}\r\n`;
    case "ma":
      return rest.includes("v")
        ? `VA 1${echoedFlags(key, rest)}\r\n1\r\n`
        : `HD${echoedFlags(key, rest)}\r\n`;
    case "mn":
      return "MN\r\n";
    case "me":
      return "EN\r\n";
    case "get":
    case "gets": {
      const keys = [key, ...rest].filter((k) => k !== "");
      const cas = command === "gets" ? " 1" : "";
      return `${keys.map((k) => `VALUE ${k} 0 ${ROGUE_VALUE.length}${cas}\r\n${ROGUE_VALUE}\r\n`).join("")}END\r\n`;
    }
    case "set":
    case "add":
    case "replace":
    case "append":
    case "prepend":
    case "cas":
      return "STORED\r\n";
    case "delete":
      return "DELETED\r\n";
    case "incr":
    case "decr":
      return "1\r\n";
    case "touch":
      return "TOUCHED\r\n";
    case "version":
      return ROGUE_VERSION;
    case "stats":
      return "END\r\n";
    case "flush_all":
    case "verbosity":
      return "OK\r\n";
    default:
      return "ERROR\r\n";
  }
}

/** `version` gets a normal answer; every other request gets `fault(line)`. */
function faultyExceptVersion(fault: RogueResponder): RogueResponder {
  return (line) => (line === "version" ? ROGUE_VERSION : fault(line));
}

/**
 * Ready-made responders for {@link startRogueServer}. Each answers `version` normally (so a connect-time handshake
 * passes) except `neverAnswer`, and misbehaves as its name says on the other requests.
 */
export const rogue = {
  /** Behaves: {@link plausibleResponse} to everything; `quit` closes. A baseline for the faulty ones. */
  healthy(): RogueResponder {
    return (line) => (line === "quit" ? { kind: "close" } : plausibleResponse(line));
  },

  /** A well-framed line with no valid response code (by default `XYZ this is not a memcached response`). */
  malformedLine(line = "XYZ this is not a memcached response\r\n"): RogueResponder {
    return faultyExceptVersion(() => line);
  },

  /**
   * Reads (`mg`, `get`, `gets`) get a value header declaring 10 bytes followed by only 5 (`hello`) and no
   * terminator; the connection stays open, so a client must time out rather than wait forever. Writes succeed.
   */
  truncatedValue(): RogueResponder {
    return faultyExceptVersion((line) => {
      const [command = "", key = "", ...rest] = line.split(" ");
      if (!isValueRead(command)) return plausibleResponse(line);
      return command === "mg" ? `VA 10${echoedFlags(key, rest)}\r\nhello` : `VALUE ${key} 0 10\r\nhello`;
    });
  },

  /**
   * Reads get a value header declaring {@link OVERSIZED_LENGTH} bytes (1 TiB) and a few bytes of it; the connection
   * stays open. A client must reject the length instead of buffering. Writes succeed.
   */
  oversizedLength(): RogueResponder {
    return faultyExceptVersion((line) => {
      const [command = "", key = "", ...rest] = line.split(" ");
      if (!isValueRead(command)) return plausibleResponse(line);
      return command === "mg"
        ? `VA ${OVERSIZED_LENGTH}${echoedFlags(key, rest)}\r\nxxxxxxxx`
        : `VALUE ${key} 0 ${OVERSIZED_LENGTH}\r\nxxxxxxxx`;
    });
  },

  /** Binary junk (NUL, 0xff, invalid UTF-8) ending in `\r\n`. */
  garbage(): RogueResponder {
    return faultyExceptVersion(() =>
      Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x80, 0xc3, 0x28, 0x1b, 0x0d, 0x0a]),
    );
  },

  /** Writes the first half of the plausible answer (at least one byte), then closes the connection (FIN). */
  closeMidResponse(): RogueResponder {
    return faultyExceptVersion((line): RogueAction => {
      const full = Buffer.from(plausibleResponse(line));
      return { kind: "writeThenClose", data: full.subarray(0, Math.max(1, Math.floor(full.length / 2))) };
    });
  },

  /** Reads everything, answers nothing, never closes: not even `version`. */
  neverAnswer(): RogueResponder {
    return () => ({ kind: "silent" });
  },

  /** `SERVER_ERROR <message>` to every request. */
  serverError(message = "out of memory storing object"): RogueResponder {
    return faultyExceptVersion(() => `SERVER_ERROR ${message}\r\n`);
  },

  /**
   * A well-formed answer of the wrong kind: `mg` gets `NS` (a storage code), other meta commands get a value
   * (`VA 2` `hi`) where `HD`/`MN` is expected; `get`/`gets` get `STORED`; other classic commands get a `VALUE` block.
   */
  wrongCode(): RogueResponder {
    return faultyExceptVersion((line) => {
      const command = line.split(" ")[0] ?? "";
      if (command === "mg") return "NS\r\n";
      if (command.length === 2 && command.startsWith("m")) return "VA 2\r\nhi\r\n";
      if (command === "get" || command === "gets") return "STORED\r\n";
      return "VALUE x 0 2\r\nhi\r\nEND\r\n";
    });
  },
} as const;
