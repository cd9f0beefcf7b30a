// logs panels: the lines of the panel's LogQL queries in the range, newest first.
import { ScrollArea } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { logs } from "../../api";
import { LogList } from "../../components/LogList";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { streamsToHits } from "../../logsQuery";
import { builtins, interpolate, targetSignal, type Panel } from "../model";
import type { PanelContext } from "./context";

export function LogsPanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const b = builtins(ctx.start, ctx.end, 60_000);
  const exprs = (panel.targets ?? [])
    .filter((t) => !t.hide && t.expr && targetSignal(panel, t, ctx.dash) === "logs")
    .map((t) => interpolate(t.expr ?? "", ctx.values, ctx.vars, b));
  const data = useQuery({
    queryKey: ["panel-logs", exprs, ctx.start, ctx.end, ctx.tick],
    queryFn: async ({ signal }) => {
      const rs = await Promise.all(exprs.map((q) => logs.lokiRange(q, ctx.start, ctx.end, 100, undefined, signal)));
      return streamsToHits(rs.flatMap((r) => (r.resultType === "streams" ? r.result : []))).slice(0, 100);
    },
    enabled: exprs.length > 0,
  });
  if (exprs.length === 0) return <Empty>This panel has no LogQL query.</Empty>;
  if (data.isLoading) return <Loading what="log lines" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (!data.data || data.data.length === 0) return <Empty>No log lines in this range.</Empty>;
  const range = `from=${new Date(ctx.start).toISOString()}&to=${new Date(ctx.end).toISOString()}`;
  return (
    <ScrollArea h={height - 8}>
      <LogList hits={data.data} compact requestLink={(id) => `/logs?query=${encodeURIComponent(`request_id:"${id}"`)}&${range}`} />
    </ScrollArea>
  );
}
