import { describe, expect, it } from "vitest";
import { InvalidArgumentError, InvalidTtlError } from "../src/errors.js";
import { copyTtl, MAX_RELATIVE_TTL, msToTtl, resolveTtl, validateMaxTtl } from "../src/ttl.js";

describe("TTL arithmetic", () => {
  it("omitted and 0 mean the cap, never 'forever'", () => {
    expect(resolveTtl(undefined, 82_800)).toBe(82_800);
    expect(resolveTtl(0, 82_800)).toBe(82_800);
  });

  it("caps long TTLs", () => {
    expect(resolveTtl(10 * 86_400, 82_800)).toBe(82_800);
    expect(resolveTtl(60, 82_800)).toBe(60);
  });

  it("rounds fractions up so sub-second TTLs never become 0", () => {
    expect(resolveTtl(0.2, 100)).toBe(1);
    expect(resolveTtl(1.5, 100)).toBe(2);
    expect(msToTtl(1)).toBe(1);
    expect(msToTtl(999)).toBe(1);
    expect(msToTtl(1001)).toBe(2);
    expect(msToTtl(0)).toBe(0);
    expect(msToTtl(undefined)).toBeUndefined();
  });

  it.each([Number.NaN, -1, -0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])("refuses %s", (ttl) => {
    expect(() => resolveTtl(ttl, 100)).toThrow(InvalidTtlError);
  });

  it("refuses bad millisecond TTLs", () => {
    expect(() => msToTtl(Number.NaN)).toThrow(InvalidTtlError);
    expect(() => msToTtl(-5)).toThrow(InvalidTtlError);
  });

  it("applies jitter downward and never below 1", () => {
    expect(resolveTtl(100, 1000, 0.1, () => 0.999)).toBe(91);
    expect(resolveTtl(100, 1000, 0.1, () => 0)).toBe(100);
    expect(resolveTtl(1, 1000, 0.5, () => 0.999)).toBe(1);
  });

  it("keeps every relative TTL at or under 30 days (memcached reads more as a Unix time)", () => {
    expect(validateMaxTtl(MAX_RELATIVE_TTL)).toBe(2_592_000);
    expect(() => validateMaxTtl(MAX_RELATIVE_TTL + 1)).toThrow(InvalidArgumentError);
    expect(() => validateMaxTtl(0)).toThrow(/maxTtl/);
    expect(() => validateMaxTtl(1.5)).toThrow(/maxTtl/);
  });

  it("copies keep the source's remaining lifetime, capped; no-expiry sources get the cap", () => {
    expect(copyTtl(30, 100)).toBe(30);
    expect(copyTtl(500, 100)).toBe(100);
    expect(copyTtl(-1, 100)).toBe(100);
    expect(copyTtl(0, 100)).toBeUndefined();
  });
});
