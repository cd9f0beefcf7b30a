import { describe, expect, it } from "vitest";
import { buildGraph, healthColor } from "./serviceGraph";
import type { QueryResult } from "./api";

const vec = (rows: [Record<string, string>, string][]): QueryResult => ({
  resultType: "vector",
  result: rows.map(([metric, v]) => ({ metric, value: [0, v] })),
});

describe("service graph", () => {
  it("joins edges and nodes", () => {
    const g = buildGraph({
      edgeRate: vec([[{ client: "gw", server: "orders" }, "10"]]),
      edgeErrors: vec([[{ client: "gw", server: "orders" }, "1"]]),
      edgeP95: vec([[{ client: "gw", server: "orders" }, "0.2"]]),
      nodeRate: vec([[{ service: "orders" }, "10"], [{ service: "lonely" }, "2"]]),
      nodeErrors: vec([]),
      nodeP95: vec([[{ service: "orders" }, "NaN"]]),
    });
    expect(g.edges).toEqual([{ client: "gw", server: "orders", stats: { rate: 10, errorRatio: 0.1, p95: 0.2 } }]);
    expect([...g.nodes.keys()].sort()).toEqual(["gw", "lonely", "orders"]);
    expect(g.nodes.get("orders")).toEqual({ rate: 10, errorRatio: 0, p95: null });
    expect(g.nodes.get("gw")?.errorRatio).toBeNull();
    expect(healthColor(0.1)).toBe("#e03131");
  });
});
