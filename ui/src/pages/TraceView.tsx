// One trace: the waterfall with the critical path, the selected span's details, and the
// trace's log lines alongside (a click on a line selects its span).
import { useMemo, useState } from "react";
import { Badge, Grid, Group, Paper, ScrollArea, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { logs, traces } from "../api";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { LogList } from "../components/LogList";
import { SpanDetails } from "../components/SpanDetails";
import { Waterfall } from "../components/Waterfall";
import { colorForName } from "../components/palette";
import { buildTree, failingSpan } from "../traceModel";
import { formatDuration, formatTimeMs } from "../time";
import { dashboardUidForService } from "../dashboards/serviceOverview";

export default function TraceView() {
  const { id = "" } = useParams();
  const trace = useQuery({ queryKey: ["trace", id], queryFn: ({ signal }) => traces.get(id, signal) });
  const critical = useQuery({ queryKey: ["critical", id], queryFn: ({ signal }) => traces.criticalPath(id, signal) });
  const lines = useQuery({
    queryKey: ["trace-logs", id],
    queryFn: ({ signal }) => logs.search(`trace_id:"${id}"`, 0, Date.now() + 86_400_000, 500, "asc", signal),
  });
  const tree = useMemo(() => (trace.data?.[0] ? buildTree(trace.data[0]) : null), [trace.data]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [picked, setPicked] = useState<string | null>(null);
  // Until a span is picked, the one where the failure started (or the root) is shown.
  const selected = picked ?? (tree ? (failingSpan(tree) ?? tree.root)?.span.spanID ?? null : null);

  if (trace.isLoading) return <Loading what="trace" />;
  if (trace.error) return <ErrorNote error={trace.error} title={`Trace ${id}`} />;
  if (!tree || !trace.data?.[0]) return <Empty>Trace {id} was not found.</Empty>;
  const node = selected ? tree.nodes.get(selected) : undefined;
  const self = critical.data?.spans.find((s) => s.spanID === selected);
  const around = (us: number) => new Date(us / 1000).toISOString();
  const from = around(tree.start - 15 * 60e6);
  const to = around(tree.start + tree.duration + 15 * 60e6);
  const toggle = (sid: string) =>
    setCollapsed((c) => {
      const n = new Set(c);
      if (n.has(sid)) n.delete(sid);
      else n.add(sid);
      return n;
    });

  return (
    <Stack gap="sm">
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={3} data-testid="trace-title">
            {tree.root ? `${tree.root.service}: ${tree.root.span.operationName}` : "Trace"}
          </Title>
          <Text size="xs" c="dimmed" className="lantern-mono">
            trace {tree.traceId} · started {formatTimeMs(tree.start / 1000)} UTC
          </Text>
        </div>
        <Group gap="xs">
          <Badge variant="default">{formatDuration(tree.duration / 1000)}</Badge>
          <Badge variant="default">{trace.data[0].spans.length} spans</Badge>
          {tree.errors > 0 && <Badge color="red">{tree.errors} failed spans</Badge>}
          {tree.services.map((s) => (
            <Badge key={s} variant="light" style={{ color: colorForName(s) }} color={colorForName(s)}>
              {s}
            </Badge>
          ))}
        </Group>
      </Group>
      <Grid gap="sm">
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <Paper withBorder p="xs">
            <Waterfall
              tree={tree}
              critical={critical.data}
              collapsed={collapsed}
              onToggle={toggle}
              selected={selected}
              onSelect={setPicked}
            />
            <Text size="xs" c="dimmed" mt={4}>
              Darker parts of the bars are the critical path (what the trace waited on); a red border marks a failed span.
            </Text>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <Paper withBorder p="sm">
            {node ? (
              <ScrollArea.Autosize mah={640}>
                <SpanDetails
                  node={node}
                  process={trace.data[0].processes[node.span.processID]}
                  selfTimeNs={self?.self_ns}
                  criticalNs={self?.critical_ns}
                  serviceLink={`/dashboards/${dashboardUidForService(node.service)}?from=${from}&to=${to}`}
                  exploreLink={`/explore?query=${encodeURIComponent(`{job="${node.service}"}`)}&from=${from}&to=${to}`}
                />
              </ScrollArea.Autosize>
            ) : (
              <Empty>Click a span for its details.</Empty>
            )}
          </Paper>
        </Grid.Col>
      </Grid>
      <Paper withBorder p="xs">
        <Group justify="space-between" mb={4}>
          <Text size="sm" fw={600}>
            Log lines of this trace
          </Text>
          <Text size="xs" c="dimmed">
            <Link to={`/logs?query=${encodeURIComponent(`trace_id:"${id}"`)}&from=${from}&to=${to}`}>Open in Logs</Link>
          </Text>
        </Group>
        {lines.isLoading ? (
          <Loading what="log lines" />
        ) : lines.error ? (
          <ErrorNote error={lines.error} />
        ) : !lines.data || lines.data.hits.length === 0 ? (
          <Empty>No log lines carry this trace ID.</Empty>
        ) : (
          <LogList
            hits={lines.data.hits}
            compact
            highlightSpan={selected ?? undefined}
            onLineClick={(h) => h.span_id && tree.nodes.has(String(h.span_id)) && setPicked(String(h.span_id))}
            requestLink={(rid) => `/logs?query=${encodeURIComponent(`request_id:"${rid}"`)}&from=${from}&to=${to}`}
          />
        )}
      </Paper>
    </Stack>
  );
}
