// Investigate a window, step by step, the way the seed's debugging workflow goes: the
// symptom (error ratio), the error logs, the failing requests and their traces, where in
// those traces the failures start, and that service's saturation. Each step links to
// its evidence. (The automated investigation API will give the verdict here.)
import { Anchor, Badge, Group, List, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { logs, metrics, traces } from "../api";
import { Chart } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { useTimeRange, absolute } from "../timeRange";
import { promDuration, stepFor } from "../time";
import { pointCount, sampleValue, toChartSeries } from "../metricsData";
import { buildTree, failingSpan } from "../traceModel";
import { dashboardUidForService } from "../dashboards/serviceOverview";
import { formatValue } from "../format";

const SYMPTOM = 'sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) / sum by (job) (rate(http_requests_total[1m]))';

export default function Investigate() {
  const tr = useTimeRange();
  const range = `from=${encodeURIComponent(tr.from)}&to=${encodeURIComponent(tr.to)}`;
  const step = stepFor(tr.end - tr.start, 120);
  const win = promDuration(tr.end - tr.start);

  const symptom = useQuery({
    queryKey: ["inv-symptom", tr.start, tr.end, step, tr.tick],
    queryFn: ({ signal }) => metrics.range(SYMPTOM, tr.start, tr.end, step, signal),
  });
  const byService = useQuery({
    queryKey: ["inv-logs-by-service", win, tr.end, tr.tick],
    queryFn: ({ signal }) =>
      logs.lokiRange(`sum by (service) (count_over_time({service=~".+", level=~"error|critical|fatal"} [${win}]))`, tr.end - 1000, tr.end, 100, win === "0s" ? undefined : tr.end - tr.start, signal),
  });
  const failing = useQuery({
    queryKey: ["inv-failing", tr.start, tr.end, tr.tick],
    queryFn: ({ signal }) => logs.search("level:error AND _exists_:trace_id", tr.start, tr.end, 200, "asc", signal),
  });
  const traceIds = [...new Set((failing.data?.hits ?? []).map((h) => String(h.trace_id ?? "")).filter((x) => x))].slice(0, 20);
  const culprits = useQuery({
    queryKey: ["inv-traces", traceIds],
    queryFn: async ({ signal }) => {
      const tally = new Map<string, { service: string; operation: string; count: number; traces: string[] }>();
      for (const id of traceIds) {
        const t = (await traces.get(id, signal).catch(() => []))[0];
        if (!t) continue;
        const f = failingSpan(buildTree(t));
        if (!f) continue;
        const key = `${f.service}\u0000${f.span.operationName}`;
        const e = tally.get(key) ?? { service: f.service, operation: f.span.operationName, count: 0, traces: [] };
        e.count++;
        e.traces.push(id);
        tally.set(key, e);
      }
      return { checked: traceIds.length, found: [...tally.values()].sort((a, b) => b.count - a.count) };
    },
    enabled: traceIds.length > 0,
  });
  const suspect = culprits.data?.found[0]?.service;
  const saturation = useQuery({
    queryKey: ["inv-saturation", suspect, tr.start, tr.end, step, tr.tick],
    queryFn: ({ signal }) =>
      metrics.range(`{job="${suspect}", __name__=~".*(cpu|queue|pool|memory_usage|connections).*"}`, tr.start, tr.end, step, signal),
    enabled: !!suspect,
  });

  const requests = new Map<string, string>();
  for (const h of failing.data?.hits ?? []) {
    const rid = String(h.request_id ?? "");
    if (rid && h.trace_id && !requests.has(rid)) requests.set(rid, String(h.trace_id));
  }

  return (
    <Stack gap="sm">
      <Title order={3}>Investigate</Title>
      <Text size="sm" c="dimmed">
        The seed's debugging walk over the selected window: from the symptom to the service where the failures start.
        Pick the window with the time picker (or drag on the chart).
      </Text>
      <Step n={1} title="The symptom: 5xx ratio per service">
        {symptom.isLoading ? (
          <Loading what="error ratio" />
        ) : symptom.error ? (
          <ErrorNote error={symptom.error} />
        ) : !symptom.data || pointCount(toChartSeries(symptom.data)) === 0 ? (
          <Empty>No http_requests_total in this window.</Empty>
        ) : (
          <Chart
            series={toChartSeries(symptom.data, "{{job}}")}
            unit="percentunit"
            height={180}
            range={[tr.start, tr.end]}
            onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))}
          />
        )}
      </Step>
      <Step n={2} title="Error logs in the window, by service">
        {byService.isLoading ? (
          <Loading what="log counts" />
        ) : byService.error ? (
          <ErrorNote error={byService.error} />
        ) : byService.data?.resultType === "matrix" && byService.data.result.length > 0 ? (
          <Group gap="xs">
            {byService.data.result
              .map((s) => ({ service: s.metric.service ?? "?", n: sampleValue(s.values[s.values.length - 1]?.[1] ?? "0") ?? 0 }))
              .sort((a, b) => b.n - a.n)
              .map((s) => (
                <Anchor
                  key={s.service}
                  component={Link}
                  to={`/logs?query=${encodeURIComponent(`service:"${s.service}" AND level:error`)}&${range}`}
                >
                  <Badge variant="light" color="red" size="lg">
                    {s.service}: {formatValue(s.n)} errors
                  </Badge>
                </Anchor>
              ))}
          </Group>
        ) : (
          <Empty>No error logs in this window.</Empty>
        )}
      </Step>
      <Step n={3} title="Failing requests and their traces">
        {failing.isLoading ? (
          <Loading what="failing requests" />
        ) : failing.error ? (
          <ErrorNote error={failing.error} />
        ) : requests.size === 0 ? (
          <Empty>No error log line in this window carries a trace ID.</Empty>
        ) : (
          <Table fz="xs" data-testid="failing-requests">
            <Table.Tbody>
              {[...requests].slice(0, 8).map(([rid, tid]) => (
                <Table.Tr key={rid}>
                  <Table.Td>
                    <Anchor component={Link} size="xs" to={`/logs?query=${encodeURIComponent(`request_id:"${rid}"`)}&${range}`}>
                      {rid}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Anchor component={Link} size="xs" className="lantern-mono" to={`/traces/${tid}`}>
                      trace {tid}
                    </Anchor>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Step>
      <Step n={4} title="Where the failures start in those traces">
        {traceIds.length === 0 ? (
          <Empty>No traces to read.</Empty>
        ) : culprits.isLoading ? (
          <Loading what="traces" />
        ) : culprits.error ? (
          <ErrorNote error={culprits.error} />
        ) : (
          <List size="sm" data-testid="culprits">
            {culprits.data?.found.map((c) => (
              <List.Item key={c.service + c.operation}>
                <b>{c.service}</b> <span className="lantern-mono">{c.operation}</span>: the deepest failed span in {c.count} of{" "}
                {culprits.data?.checked} failing traces (e.g.{" "}
                <Anchor component={Link} to={`/traces/${c.traces[0]}`}>
                  {c.traces[0].slice(0, 12)}
                </Anchor>
                )
              </List.Item>
            ))}
          </List>
        )}
      </Step>
      <Step n={5} title={suspect ? `Saturation of ${suspect}` : "Saturation of that service"}>
        {!suspect ? (
          <Empty>Once a service is found above, its CPU, memory, queue and pool series show here.</Empty>
        ) : saturation.isLoading ? (
          <Loading what="saturation" />
        ) : saturation.error ? (
          <ErrorNote error={saturation.error} />
        ) : !saturation.data || pointCount(toChartSeries(saturation.data)) === 0 ? (
          <Empty>{suspect} has no CPU, memory, queue or pool series.</Empty>
        ) : (
          <>
            <Chart series={toChartSeries(saturation.data, "{{__name__}}")} height={180} range={[tr.start, tr.end]} />
            <Anchor component={Link} to={`/dashboards/${dashboardUidForService(suspect)}?${range}`} size="sm">
              Open the {suspect} overview dashboard
            </Anchor>
          </>
        )}
      </Step>
    </Stack>
  );
}

function Step({ n, title, children }: { n: number; title: string; children: React.ReactNode }) {
  return (
    <Paper withBorder p="sm" data-testid={`step-${n}`}>
      <Text fw={700} size="sm" mb={6}>
        {n}. {title}
      </Text>
      {children}
    </Paper>
  );
}
