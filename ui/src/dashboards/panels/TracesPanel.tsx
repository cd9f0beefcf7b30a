// traces panels: a Jaeger/Tempo search (service, tags) or trace IDs, as a table of
// traces linking to the trace view.
import { Badge, ScrollArea, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { traces, type JaegerTrace, type TraceQuery } from "../../api";
import { Empty, ErrorNote, Loading } from "../../components/QueryState";
import { buildTree } from "../../traceModel";
import { formatDuration, formatTimeMs } from "../../time";
import { tagsJson } from "../../traceQuery";
import { interpolate, targetSignal, type Panel, type Target } from "../model";
import type { PanelContext } from "./context";

interface TraceqlFilter {
  tag?: string;
  operator?: string;
  value?: string | string[];
}

/** A Jaeger search from a panel's query: Jaeger's own fields, or Tempo's TraceQL search filters. */
export function searchOf(t: Target, sub: (s: string | undefined) => string | undefined): TraceQuery & { status?: string } {
  const q: TraceQuery & { status?: string } = {
    service: sub(t.service),
    operation: sub(t.operation),
    minDuration: sub(t.minDuration),
    maxDuration: sub(t.maxDuration),
    limit: t.limit ?? 20,
  };
  let tags = sub(t.tags) ?? "";
  for (const f of (t.filters as TraceqlFilter[] | undefined) ?? []) {
    const value = sub(Array.isArray(f.value) ? f.value[0] : f.value);
    if (!value) continue;
    if (f.tag === "service.name" && f.operator === "=") q.service = value;
    else if (f.tag === "name" && f.operator === "=") q.operation = value;
    else if (f.tag === "status" && f.operator === "=") q.status = value === "error" ? "error" : value === "ok" ? "ok" : undefined;
    else if (f.tag === "duration" && (f.operator === ">" || f.operator === ">=")) q.minDuration = value;
    else if (f.tag === "duration" && (f.operator === "<" || f.operator === "<=")) q.maxDuration = value;
    else if (f.tag && f.operator === "=") tags += ` ${f.tag}=${value}`;
  }
  q.tags = tagsJson(tags, q.status ?? "");
  return q;
}

async function run(t: Target, ctx: PanelContext, signal: AbortSignal): Promise<JaegerTrace[]> {
  const sub = (s: string | undefined) => (s ? interpolate(s, ctx.values, ctx.vars, {}) : undefined);
  const id = sub(t.query)?.trim();
  if (id && /^[0-9a-fA-F]{1,32}$/.test(id) && t.queryType !== "search" && t.queryType !== "traceqlSearch") {
    return traces.get(id, signal);
  }
  const q = searchOf(t, sub);
  // Jaeger's search names a service; without one, every service is searched.
  const services = q.service ? [q.service] : ((await traces.services(signal)) ?? []).slice(0, 20);
  const found = await Promise.all(services.map((service) => traces.search({ ...q, service }, ctx.start, ctx.end, signal)));
  return found.flat();
}

export function TracesPanel({ panel, ctx, height }: { panel: Panel; ctx: PanelContext; height: number }) {
  const targets = (panel.targets ?? []).filter((t) => !t.hide && targetSignal(panel, t, ctx.dash) === "traces");
  const data = useQuery({
    queryKey: ["panel-traces", targets, ctx.values, ctx.start, ctx.end, ctx.tick],
    queryFn: async ({ signal }) => (await Promise.all(targets.map((t) => run(t, ctx, signal)))).flat(),
    enabled: targets.length > 0,
  });
  if (targets.length === 0) return <Empty>This panel has no trace query.</Empty>;
  if (data.isLoading) return <Loading what="traces" />;
  if (data.error) return <ErrorNote error={data.error} />;
  if (!data.data || data.data.length === 0) return <Empty>No traces in this range.</Empty>;
  const limit = Math.max(...targets.map((t) => t.limit ?? 20));
  const rows = data.data
    .map((t) => ({ t, tree: buildTree(t) }))
    .sort((a, b) => b.tree.start - a.tree.start)
    .slice(0, limit);
  return (
    <ScrollArea h={height - 8}>
      <Table fz="xs" highlightOnHover data-testid="traces-panel">
        <Table.Tbody>
          {rows.map(({ t, tree }) => (
            <Table.Tr key={t.traceID}>
              <Table.Td>
                <Link to={`/traces/${t.traceID}`}>
                  {tree.root?.service}: {tree.root?.span.operationName}
                </Link>{" "}
                {tree.errors > 0 && (
                  <Badge size="xs" color="red">
                    {tree.errors} errors
                  </Badge>
                )}
              </Table.Td>
              <Table.Td ta="right">{formatDuration(tree.duration / 1000)}</Table.Td>
              <Table.Td>
                <Text size="xs" c="dimmed" className="lantern-mono">
                  {formatTimeMs(tree.start / 1000)}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}
