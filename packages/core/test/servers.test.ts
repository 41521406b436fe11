import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../src/errors.js";
import { formatHostPort, parseServers, type ServerSpec } from "../src/servers.js";

describe("parseServers: valid input", () => {
  const cases: Array<[ServerSpec, ReturnType<typeof parseServers>[number]]> = [
    ["127.0.0.1:11211", { name: "127.0.0.1:11211", host: "127.0.0.1", port: 11211, weight: 1 }],
    ["cache", { name: "cache:11211", host: "cache", port: 11211, weight: 1 }],
    [
      "cache-1.internal:11212:2.5",
      { name: "cache-1.internal:11212", host: "cache-1.internal", port: 11212, weight: 2.5 },
    ],
    ["  cache_b:1:3  ", { name: "cache_b:1", host: "cache_b", port: 1, weight: 3 }],
    ["[::1]", { name: "[::1]:11211", host: "::1", port: 11211, weight: 1 }],
    ["[::1]:11211", { name: "[::1]:11211", host: "::1", port: 11211, weight: 1 }],
    ["[::1]:11211:2", { name: "[::1]:11211", host: "::1", port: 11211, weight: 2 }],
    ["[fe80::1%eth0]:11300", { name: "[fe80::1%eth0]:11300", host: "fe80::1%eth0", port: 11300, weight: 1 }],
    [
      "[::ffff:10.0.0.1]:11211",
      { name: "[::ffff:10.0.0.1]:11211", host: "::ffff:10.0.0.1", port: 11211, weight: 1 },
    ],
    [
      "/var/run/memcached/memcached.sock",
      {
        name: "/var/run/memcached/memcached.sock",
        host: "/var/run/memcached/memcached.sock",
        port: 0,
        path: "/var/run/memcached/memcached.sock",
        weight: 1,
      },
    ],
    [{ host: "10.0.0.1" }, { name: "10.0.0.1:11211", host: "10.0.0.1", port: 11211, weight: 1 }],
    [
      { host: "::1", port: 11212, weight: 3, name: "primary" },
      { name: "primary", host: "::1", port: 11212, weight: 3 },
    ],
    [{ host: "[::1]" }, { name: "[::1]:11211", host: "::1", port: 11211, weight: 1 }],
    [
      { host: "a", weight: 0.25 },
      { name: "a:11211", host: "a", port: 11211, weight: 0.25 },
    ],
    [
      { host: "localhost", path: "/tmp/mc.sock" },
      { name: "/tmp/mc.sock", host: "localhost", port: 0, path: "/tmp/mc.sock", weight: 1 },
    ],
    [
      { path: "/tmp/mc.sock", weight: 2 } as ServerSpec,
      { name: "/tmp/mc.sock", host: "/tmp/mc.sock", port: 0, path: "/tmp/mc.sock", weight: 2 },
    ],
  ];
  it.each(cases)("%j", (spec, expected) => {
    expect(parseServers([spec])).toEqual([expected]);
  });

  it("keeps order and returns new objects", () => {
    const input: ServerSpec[] = [{ host: "b" }, "a:1", "c"];
    const parsed = parseServers(input);
    expect(parsed.map((s) => s.name)).toEqual(["b:11211", "a:1", "c:11211"]);
    expect(parsed[0]).not.toBe(input[0]);
  });

  it("formats IPv6 default names with brackets", () => {
    expect(formatHostPort("::1", 11211)).toBe("[::1]:11211");
    expect(formatHostPort("10.0.0.1", 11211)).toBe("10.0.0.1:11211");
  });
});

describe("parseServers: invalid input throws InvalidArgumentError naming servers[i]", () => {
  const cases: Array<[string, unknown[], RegExp]> = [
    ["empty string", [""], /servers\[0\]: empty server string; expected "host"/],
    ["port 0", ["host:0"], /servers\[0\]: invalid port 0 .*integer from 1 to 65535/],
    ["port too big", ["host:65536"], /servers\[0\]: invalid port 65536 .*1 to 65535/],
    ["port not a number", ["host:abc"], /servers\[0\]: invalid port "abc" .*1 to 65535/],
    ["empty port", ["host:"], /servers\[0\]: invalid port "" /],
    ["negative port", ["host:-1"], /servers\[0\]: invalid port "-1" /],
    ["weight 0", ["host:11211:0"], /servers\[0\]: invalid weight 0 .*positive finite number/],
    ["negative weight", ["host:11211:-1"], /servers\[0\]: invalid weight "-1" .*positive finite number/],
    ["weight not a number", ["host:11211:abc"], /servers\[0\]: invalid weight "abc"/],
    ["infinite weight", ["host:11211:1e400"], /servers\[0\]: invalid weight Infinity .*positive finite/],
    ["too many parts", ["a:1:2:3"], /servers\[0\]: cannot parse "a:1:2:3".*brackets/],
    ["bare IPv6", ["::1"], /servers\[0\]: cannot parse "::1".*\[::1\]:11211/],
    ["bare IPv6 with port", ["fe80::1:11211"], /brackets/],
    ["missing ]", ["[::1"], /servers\[0\]: missing "\]"/],
    ["junk after ]", ["[::1]x"], /servers\[0\]: unexpected "x" after "\]"/],
    ["empty brackets", ["[]:11211"], /servers\[0\]: empty IPv6 address/],
    ["brackets without IPv6", ["[abc]:11211"], /servers\[0\]: "abc" in brackets is not an IPv6 address/],
    ["bad IPv6 port", ["[::1]:x"], /servers\[0\]: invalid port "x"/],
    ["bad host", ["bad host:11211"], /servers\[0\]: invalid host "bad host"/],
    ["missing host", [":11211"], /servers\[0\]: missing host/],
    ["object: empty host", [{ host: "" }], /servers\[0\]: invalid host "": expected a non-empty host/],
    ["object: no host, no path", [{ port: 11211 }], /servers\[0\]: invalid host undefined/],
    ["object: port 0", [{ host: "a", port: 0 }], /servers\[0\]: invalid port 0 .*1 to 65535/],
    ["object: fractional port", [{ host: "a", port: 1.5 }], /servers\[0\]: invalid port 1.5/],
    ["object: string port", [{ host: "a", port: "11211" }], /servers\[0\]: invalid port 11211/],
    ["object: weight 0", [{ host: "a", weight: 0 }], /servers\[0\]: invalid weight 0 .*positive finite/],
    ["object: NaN weight", [{ host: "a", weight: Number.NaN }], /invalid weight NaN/],
    ["object: infinite weight", [{ host: "a", weight: Number.POSITIVE_INFINITY }], /invalid weight Infinity/],
    ["object: string weight", [{ host: "a", weight: "2" }], /invalid weight 2/],
    [
      "object: empty name",
      [{ host: "a", name: "" }],
      /servers\[0\]: invalid name "": expected a non-empty string/,
    ],
    [
      "object: relative path",
      [{ host: "a", path: "mc.sock" }],
      /servers\[0\]: invalid path "mc.sock": expected an absolute/,
    ],
    ["object: bad host", [{ host: "a b" }], /servers\[0\]: invalid host "a b"/],
    ["null entry", ["a", null], /servers\[1\]: expected "host".*got null/],
    ["number entry", [11211], /servers\[0\]: expected .*got number/],
    ["array entry", [["a"]], /servers\[0\]: expected .*got object/],
    ["duplicate strings", ["a:1", "b:1", "a:1"], /servers\[2\]: duplicate name "a:1" \(also servers\[0\]\)/],
    [
      "duplicate default port",
      ["a", "a:11211"],
      /servers\[1\]: duplicate name "a:11211" \(also servers\[0\]\)/,
    ],
    [
      "duplicate explicit names",
      [
        { host: "a", name: "x" },
        { host: "b", name: "x" },
      ],
      /servers\[1\]: duplicate name "x".*set `name`/,
    ],
    ["error index", ["ok:1", "ok:2", "bad:0"], /^servers\[2\]: invalid port 0/],
  ];
  it.each(cases)("%s", (_label, specs, message) => {
    const attempt = () => parseServers(specs as ServerSpec[]);
    expect(attempt).toThrow(InvalidArgumentError);
    expect(attempt).toThrow(message);
  });

  it("rejects an empty list", () => {
    expect(() => parseServers([])).toThrow(InvalidArgumentError);
    expect(() => parseServers([])).toThrow(/servers: the list is empty; give at least one server/);
  });

  it("rejects a non-array", () => {
    expect(() => parseServers("a:1" as unknown as ServerSpec[])).toThrow(InvalidArgumentError);
    expect(() => parseServers("a:1" as unknown as ServerSpec[])).toThrow(/servers: expected an array/);
  });

  it("sets the stable error code", () => {
    try {
      parseServers(["host:0"]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe("ERR_MCPAIR_INVALID_ARGUMENT");
    }
  });
});
