import { describe, expect, it } from "vitest";
import { addLogqlFilter, addSearchFilter, nsToIso, streamsToHits } from "./logsQuery";

describe("log queries", () => {
  it("adds search filters", () => {
    expect(addSearchFilter("", "level", "error")).toBe('level:"error"');
    expect(addSearchFilter("level:error", "service", "api")).toBe('level:error AND service:"api"');
    expect(addSearchFilter("a OR b", "x", "1", true)).toBe('(a OR b) AND -x:"1"');
    expect(addSearchFilter("", "error", 'say "no"')).toBe('error:"say \\"no\\""');
  });
  it("adds LogQL filters", () => {
    expect(addLogqlFilter('{service="api"}', "level", "error")).toBe('{service="api", level="error"}');
    expect(addLogqlFilter('{service="api"} |= "x"', "error_code", "CARD_DECLINED")).toBe(
      '{service="api"} |= "x" | json | error_code="CARD_DECLINED"',
    );
    expect(addLogqlFilter('{service="api"} | json', "user.id", "7", true)).toBe('{service="api"} | json | user_id!="7"');
  });
  it("turns streams into rows, newest first", () => {
    const hits = streamsToHits([
      {
        stream: { service: "api", level: "error" },
        values: [
          ["1770836401000000001", '{"event":"payment_failed","error_code":"CARD_DECLINED"}'],
          ["1770836400000000000", "plain text"],
        ],
      },
      { stream: { service: "web" }, values: [["1770836402000000000", "later"]] },
    ]);
    expect(hits.map((h) => h.message)).toEqual(["later", "payment_failed", "plain text"]);
    expect(hits[1].error_code).toBe("CARD_DECLINED");
    expect(hits[1].service).toBe("api");
    expect(nsToIso("1770836401000000001")).toBe("2026-02-11T19:00:01.000000001Z");
  });
});
