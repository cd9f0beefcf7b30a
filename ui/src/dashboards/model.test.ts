import { describe, expect, it } from "vitest";
import { ALL, builtins, interpolate, sections, signalOf, targetSignal, type Dashboard, type VariableModel } from "./model";

describe("dashboard model", () => {
  it("maps datasources to signals", () => {
    const d: Dashboard = {
      __inputs: [{ name: "DS_LOKI", pluginId: "loki" }],
      templating: { list: [{ name: "ds", type: "datasource", query: "jaeger" }] },
    };
    expect(signalOf(null, d)).toBe("metrics");
    expect(signalOf("${DS_LOKI}", d)).toBe("logs");
    expect(signalOf("$ds", d)).toBe("traces");
    expect(signalOf({ type: "prometheus", uid: "x" }, d)).toBe("metrics");
    expect(signalOf({ type: "tempo" }, d)).toBe("traces");
    expect(targetSignal({ type: "graph", datasource: "-- Mixed --" }, { datasource: { type: "loki" } }, d)).toBe("logs");
    expect(targetSignal({ type: "graph", datasource: { type: "prometheus" } }, { datasource: { type: "loki" } }, d)).toBe("metrics");
  });

  it("interpolates variables and built-ins", () => {
    const vars: VariableModel[] = [
      { name: "job", type: "query", options: [{ value: ALL }, { value: "api" }, { value: "web" }], includeAll: true },
      { name: "env", type: "custom" },
    ];
    const b = builtins(0, 3_600_000, 15_000);
    expect(b.__rate_interval).toBe("60s");
    expect(interpolate('rate(x{job=~"$job"}[$__rate_interval])', { job: [ALL] }, vars, b)).toBe('rate(x{job=~"(api|web)"}[60s])');
    expect(interpolate('x{job=~"${job}", env="[[env]]"}', { job: ["a.b", "c"], env: ["prod"] }, vars, b)).toBe(
      'x{job=~"(a\\.b|c)", env="prod"}',
    );
    expect(interpolate("$unknown $__range", {}, vars, b)).toBe("$unknown 3600s");
    expect(interpolate("${job:csv}", { job: ["a", "b"] }, vars, b)).toBe("a,b");
  });

  it("splits panels into rows", () => {
    const s = sections({
      panels: [
        { type: "graph", gridPos: { x: 0, y: 0, w: 12, h: 8 } },
        { type: "row", title: "B", gridPos: { x: 0, y: 9, w: 24, h: 1 } },
        { type: "stat", gridPos: { x: 12, y: 10, w: 12, h: 8 } },
        { type: "stat", gridPos: { x: 0, y: 10, w: 12, h: 8 } },
        { type: "row", title: "C", collapsed: true, gridPos: { x: 0, y: 18, w: 24, h: 1 }, panels: [{ type: "table" }] },
      ],
    });
    expect(s.map((x) => [x.row?.title ?? null, x.panels.length])).toEqual([
      [null, 1],
      ["B", 2],
      ["C", 1],
    ]);
    expect(s[1].panels[0].gridPos?.x).toBe(0);
  });
});

import { searchOf } from "./panels/TracesPanel";

describe("trace panel queries", () => {
  it("reads Tempo's TraceQL search filters", () => {
    const q = searchOf(
      {
        queryType: "traceqlSearch",
        limit: 5,
        filters: [
          { tag: "service.name", operator: "=", value: ["$service"] },
          { tag: "status", operator: "=", value: "error" },
          { tag: "duration", operator: ">", value: "250ms" },
          { tag: "http.route", operator: "=", value: "/pay" },
        ],
      },
      (s) => s?.replace("$service", "checkout"),
    );
    expect(q).toEqual({
      service: "checkout",
      operation: undefined,
      minDuration: "250ms",
      maxDuration: undefined,
      limit: 5,
      status: "error",
      tags: JSON.stringify({ "http.route": "/pay", error: "true" }),
    });
  });
});
