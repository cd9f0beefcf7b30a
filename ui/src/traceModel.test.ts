import { describe, expect, it } from "vitest";
import type { JaegerTrace } from "./api";
import { buildTree, failingSpan, visibleRows } from "./traceModel";

const span = (id: string, parent: string | null, start: number, dur: number, pid: string, error = false) => ({
  traceID: "t1",
  spanID: id,
  operationName: `op-${id}`,
  references: parent ? [{ refType: "CHILD_OF", traceID: "t1", spanID: parent }] : [],
  startTime: start,
  duration: dur,
  tags: error ? [{ key: "error", type: "bool", value: true }] : [],
  logs: [],
  processID: pid,
  warnings: null,
});

const trace: JaegerTrace = {
  traceID: "t1",
  spans: [span("c", "a", 150, 20, "p2", true), span("a", null, 100, 100, "p1"), span("b", "a", 110, 30, "p2"), span("d", "c", 155, 5, "p3", true)],
  processes: { p1: { serviceName: "gateway", tags: [] }, p2: { serviceName: "orders", tags: [] }, p3: { serviceName: "payment", tags: [] } },
  warnings: null,
};

describe("trace tree", () => {
  it("orders spans depth first by start", () => {
    const t = buildTree(trace);
    expect(t.order).toEqual(["a", "b", "c", "d"]);
    expect(t.nodes.get("d")?.depth).toBe(2);
    expect(t.duration).toBe(100);
    expect(t.services).toEqual(["orders", "gateway", "payment"]);
    expect(t.errors).toBe(2);
    expect(t.root?.span.spanID).toBe("a");
  });
  it("hides collapsed subtrees", () => {
    const t = buildTree(trace);
    expect(visibleRows(t, new Set(["c"]))).toEqual(["a", "b", "c"]);
    expect(visibleRows(t, new Set(["a"]))).toEqual(["a"]);
  });
  it("finds the deepest failing span", () => {
    expect(failingSpan(buildTree(trace))?.service).toBe("payment");
  });
});
