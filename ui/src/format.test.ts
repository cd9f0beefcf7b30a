import { describe, expect, it } from "vitest";
import { formatValue, legendFormat, seriesName, short } from "./format";

describe("format", () => {
  it("shortens numbers", () => {
    expect(short(1234)).toBe("1.23k");
    expect(short(0.5)).toBe("0.5");
    expect(short(0)).toBe("0");
    expect(short(2_500_000)).toBe("2.5M");
  });
  it("formats units", () => {
    expect(formatValue(0.0123, "percentunit")).toBe("1.23%");
    expect(formatValue(0.25, "s")).toBe("250 ms");
    expect(formatValue(2048, "bytes")).toBe("2 KiB");
    expect(formatValue(null)).toBe("—");
  });
  it("names series", () => {
    expect(seriesName({ __name__: "up", job: "api" })).toBe('up{job="api"}');
    expect(legendFormat("{{job}} / {{ status }}", { job: "api", status: "500" })).toBe("api / 500");
  });
});

import { align } from "./components/TimeSeriesChart";

describe("chart data", () => {
  it("keeps gaps as gaps and joins over exemplar-only times", () => {
    const d = align(
      [
        { label: "a", points: [[1000, 1], [2000, 2], [4000, 4]] },
        { label: "b", points: [[3000, 3]] },
      ],
      [{ time: 2500, value: 9, labels: {}, series: "a" }],
      false,
    );
    expect(d[0]).toEqual([1, 2, 2.5, 3, 4]);
    expect(d[1]).toEqual([1, 2, undefined, null, 4]);
    expect(d[2]).toEqual([null, null, undefined, 3, null]);
    expect(d[3]).toEqual([undefined, undefined, 9, undefined, undefined]);
  });
  it("breaks a line where a series falls silent", () => {
    const d = align([{ label: "a", points: [[1000, 1], [2000, 2], [9000, 9], [10000, 10]] }], [], false);
    expect(d[0]).toEqual([1, 2, 3, 9, 10]);
    expect(d[1]).toEqual([1, 2, null, 9, 10]);
  });
});
