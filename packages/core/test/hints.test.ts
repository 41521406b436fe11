import { describe, expect, it } from "vitest";
import { HintLog } from "../src/hints.js";

describe("hint log", () => {
  it("blocks reads of hinted keys only", () => {
    const h = new HintLog(3);
    h.add("a");
    expect(h.blocks("a")).toBe(true);
    expect(h.blocks("b")).toBe(false);
    h.settle("a");
    expect(h.blocks("a")).toBe(false);
  });

  it("overflows into 'flush required' instead of growing without bound", () => {
    const h = new HintLog(2);
    expect(h.add("a")).toBe(false);
    expect(h.add("b")).toBe(false);
    expect(h.add("a")).toBe(false); // already there: no growth
    expect(h.add("c")).toBe(true);
    expect(h.overflowed).toBe(true);
    expect(h.size).toBe(0);
    expect(h.blocks("zzz")).toBe(true);
    expect(h.add("d")).toBe(false);
    h.clear();
    expect(h.overflowed).toBe(false);
    expect(h.blocks("zzz")).toBe(false);
  });

  it("hands out bounded batches for replay", () => {
    const h = new HintLog(100);
    for (let i = 0; i < 10; i++) h.add(`k${i}`);
    expect(h.peek(4)).toEqual(["k0", "k1", "k2", "k3"]);
    expect(h.size).toBe(10);
  });
});
