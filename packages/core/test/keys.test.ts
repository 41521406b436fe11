import { describe, expect, it } from "vitest";
import { InvalidArgumentError, InvalidKeyError } from "../src/errors.js";
import { createKeyMapper, keyProblem, utf8Length } from "../src/keys.js";

describe("key validation", () => {
  it("accepts ordinary keys up to 250 bytes", () => {
    expect(keyProblem("user:1")).toBeUndefined();
    expect(keyProblem("a".repeat(250))).toBeUndefined();
    expect(keyProblem("é".repeat(125))).toBeUndefined(); // 250 bytes of UTF-8
  });

  it("counts UTF-8 bytes, not UTF-16 units", () => {
    expect(keyProblem("é".repeat(126))).toMatch(/at most 250 bytes of UTF-8 \(got 252\)/);
    expect(utf8Length("a€😀")).toBe(1 + 3 + 4);
    expect(utf8Length("\ud800")).toBe(3);
  });

  it.each([
    ["", /empty/],
    ["a".repeat(251), /at most 250 bytes \(got 251\)/],
    ["a b", /whitespace or control.*0x20/],
    ["a\r\nflush_all", /0x0d/],
    ["a\nb", /0x0a/],
    ["a\tb", /0x09/],
    ["a\x00b", /0x00/],
    ["a\x7fb", /0x7f/],
    ["a\u00a0b", /whitespace/],
    ["a\u0085b", /whitespace or control/],
    ["a\u2028b", /whitespace/],
  ])("refuses %j", (key, reason) => {
    expect(keyProblem(key)).toMatch(reason);
  });

  it("refuses non-strings", () => {
    expect(keyProblem(42)).toMatch(/strings/);
    expect(keyProblem(undefined)).toMatch(/strings/);
  });

  it("mapper throws InvalidKeyError with the reason", () => {
    const map = createKeyMapper("", false);
    expect(map("ok")).toBe("ok");
    expect(() => map("not ok")).toThrow(InvalidKeyError);
    try {
      map("x".repeat(300));
    } catch (e) {
      expect((e as InvalidKeyError).code).toBe("ERR_MCPAIR_INVALID_KEY");
      expect((e as Error).message).toMatch(/at most 250 bytes/);
    }
  });

  it("prefixes keys and validates the prefixed key", () => {
    const map = createKeyMapper("app:", false);
    expect(map("k")).toBe("app:k");
    expect(() => map("x".repeat(247))).toThrow(/at most 250 bytes/);
    expect(() => createKeyMapper("bad prefix", false)).toThrow(InvalidArgumentError);
  });

  it('hashes long or unusable keys with hashKeys: "long", stably and distinctly', () => {
    const map = createKeyMapper("ns:", "long");
    expect(map("short")).toBe("ns:short");
    const long = map("q".repeat(1000));
    expect(long).toMatch(/^ns:#[A-Za-z0-9_-]{43}$/);
    expect(map("q".repeat(1000))).toBe(long);
    expect(map("q".repeat(1001))).not.toBe(long);
    expect(keyProblem(map("SELECT * FROM t WHERE a = 1"))).toBeUndefined();
    expect(() => map("")).toThrow(InvalidKeyError);
  });

  it('hashes every key with hashKeys: "always"', () => {
    const map = createKeyMapper("", "always");
    expect(map("a")).toMatch(/^#[A-Za-z0-9_-]{43}$/);
  });
});
