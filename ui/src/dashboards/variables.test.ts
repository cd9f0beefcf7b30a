import { describe, expect, it } from "vitest";
import { applyRegex, customOptions, initialValues } from "./variables";

describe("variables", () => {
  it("reads custom lists", () => {
    expect(customOptions("a, b ,c")).toEqual([
      { text: "a", value: "a" },
      { text: "b", value: "b" },
      { text: "c", value: "c" },
    ]);
    expect(customOptions("Production : prod,x\\,y")).toEqual([
      { text: "Production", value: "prod" },
      { text: "x,y", value: "x,y" },
    ]);
  });
  it("applies regexes", () => {
    expect(applyRegex(["node-1:9100", "node-2:9100", "other"], "/(node-\\d)/")).toEqual(["node-1", "node-2"]);
    expect(applyRegex(['up{job="a"} 1 0'], '/job="([^"]+)"/')).toEqual(["a"]);
  });
  it("picks initial values", () => {
    const opts = [{ value: "a", text: "a" }];
    expect(initialValues({ name: "x", type: "query" }, ["b"], opts)).toEqual(["b"]);
    expect(initialValues({ name: "x", type: "query", current: { value: "gone" } }, [], opts)).toEqual(["a"]);
    expect(initialValues({ name: "x", type: "query", includeAll: true }, [], opts)).toEqual(["$__all"]);
  });
});
