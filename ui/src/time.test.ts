import { describe, expect, it } from "vitest";
import { describeRange, formatDuration, parseDuration, parseTime, promDuration, stepFor } from "./time";

const NOW = Date.UTC(2026, 1, 11, 15, 0, 0);

describe("time", () => {
  it("parses Prometheus durations", () => {
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("5 minutes")).toBeNull();
    expect(parseDuration("")).toBeNull();
  });

  it("parses relative and absolute times", () => {
    expect(parseTime("now", NOW)).toBe(NOW);
    expect(parseTime("now-1h", NOW)).toBe(NOW - 3_600_000);
    expect(parseTime("now-1d/d", NOW)).toBe(NOW - 86_400_000);
    expect(parseTime("2026-02-11T14:30:00", NOW)).toBe(Date.UTC(2026, 1, 11, 14, 30));
    expect(parseTime("2026-02-11 14:30:00", NOW)).toBe(Date.UTC(2026, 1, 11, 14, 30));
    expect(parseTime("2026-02-11T14:30:00+01:00", NOW)).toBe(Date.UTC(2026, 1, 11, 13, 30));
    expect(parseTime("1770820200", NOW)).toBe(1_770_820_200_000);
    expect(parseTime("1770820200000", NOW)).toBe(1_770_820_200_000);
    expect(parseTime("yesterday", NOW)).toBeNull();
    expect(parseTime("now*2", NOW)).toBeNull();
  });

  it("formats durations and steps", () => {
    expect(formatDuration(0.5)).toBe("500µs");
    expect(formatDuration(42)).toBe("42ms");
    expect(formatDuration(30_000)).toBe("30.0s");
    expect(formatDuration(5_400_000)).toBe("1h 30m");
    expect(promDuration(5_400_000)).toBe("1h30m");
    expect(stepFor(3_600_000)).toBe(15_000);
    expect(stepFor(60_000)).toBe(1000);
  });

  it("describes ranges", () => {
    expect(describeRange("now-1h", "now")).toBe("Last 1 hour");
    expect(describeRange("now-15m", "now")).toBe("Last 15 minutes");
    expect(describeRange("2026-02-11T14:30:00Z", "2026-02-11T14:35:00Z")).toBe("2026-02-11 14:30:00 → 2026-02-11 14:35:00");
  });
});
