// The service map: services and the calls between them, from the service-graph series,
// with request rate, error ratio and p95 latency on each node and edge; a click on a
// service shows its golden signals over time.
import { lazy, Suspense } from "react";
import { Button, Grid, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { metrics } from "../api";
import { Chart } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { absolute, useTimeRange } from "../timeRange";
import { useUrlParam } from "../urlState";
import { promDuration, stepFor } from "../time";
import { buildGraph, mapQueries, serviceQueries } from "../serviceGraph";
import { pointCount, toChartSeries } from "../metricsData";
import { dashboardUidForService } from "../dashboards/serviceOverview";

const GraphView = lazy(() => import("../components/ServiceGraphView"));

export default function ServiceMap() {
  const tr = useTimeRange();
  const [service, setService] = useUrlParam("service");
  const win = promDuration(Math.max(tr.end - tr.start, 60_000));
  const graph = useQuery({
    queryKey: ["service-map", win, tr.end, tr.tick],
    queryFn: async ({ signal }) => {
      const qs = mapQueries(win);
      const entries = await Promise.all(
        Object.entries(qs).map(async ([k, q]) => [k, await metrics.instant(q, tr.end, signal)] as const),
      );
      return buildGraph(Object.fromEntries(entries) as Parameters<typeof buildGraph>[0]);
    },
  });

  return (
    <Stack gap="sm">
      <Title order={3}>Service map</Title>
      <Text size="xs" c="dimmed">
        Calls between services over the selected range (from spans: traces_service_graph_*), with request rate, error
        ratio and p95 latency. Border and edge colours: green under 1% errors, orange under 5%, red above.
      </Text>
      <Grid gap="sm">
        <Grid.Col span={{ base: 12, lg: service ? 8 : 12 }}>
          <Paper withBorder p="xs">
            {graph.isLoading ? (
              <Loading what="service graph" />
            ) : graph.error ? (
              <ErrorNote error={graph.error} />
            ) : !graph.data || graph.data.nodes.size === 0 ? (
              <Empty>No spans in this range, so no services to draw. Send traces over OTLP to see the map.</Empty>
            ) : (
              <Suspense fallback={<Loading what="graph layout" />}>
                <GraphView graph={graph.data} selected={service || null} onSelect={(s) => setService(s, true)} />
              </Suspense>
            )}
          </Paper>
        </Grid.Col>
        {service && (
          <Grid.Col span={{ base: 12, lg: 4 }}>
            <ServicePanel service={service} onClose={() => setService("", true)} />
          </Grid.Col>
        )}
      </Grid>
    </Stack>
  );
}

function ServicePanel({ service, onClose }: { service: string; onClose: () => void }) {
  const tr = useTimeRange();
  const step = stepFor(tr.end - tr.start, 120);
  const qs = serviceQueries(service);
  const charts = [
    { title: "Requests per second", q: qs.rate, unit: "reqps" },
    { title: "Error ratio", q: qs.errors, unit: "percentunit" },
    { title: "p95 latency", q: qs.p95, unit: "s" },
  ];
  const range = `from=${encodeURIComponent(tr.from)}&to=${encodeURIComponent(tr.to)}`;
  return (
    <Paper withBorder p="sm" data-testid="service-panel">
      <Group justify="space-between" mb="xs">
        <Title order={4}>{service}</Title>
        <Button size="compact-xs" variant="subtle" onClick={onClose}>
          Close
        </Button>
      </Group>
      <Group gap="xs" mb="xs">
        <Button component={Link} size="xs" variant="light" to={`/dashboards/${dashboardUidForService(service)}?${range}`}>
          Overview dashboard
        </Button>
        <Button component={Link} size="xs" variant="default" to={`/traces?service=${encodeURIComponent(service)}&status=error&${range}`}>
          Failed traces
        </Button>
        <Button
          component={Link}
          size="xs"
          variant="default"
          to={`/logs?query=${encodeURIComponent(`service:"${service}" AND level:error`)}&${range}`}
        >
          Error logs
        </Button>
      </Group>
      {charts.map((c) => (
        <SignalChart key={c.title} title={c.title} query={c.q} unit={c.unit} step={step} onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))} />
      ))}
    </Paper>
  );
}

function SignalChart({ title, query, unit, step, onZoom }: { title: string; query: string; unit: string; step: number; onZoom: (a: number, b: number) => void }) {
  const tr = useTimeRange();
  const r = useQuery({
    queryKey: ["signal", query, tr.start, tr.end, step, tr.tick],
    queryFn: ({ signal }) => metrics.range(query, tr.start, tr.end, step, signal),
  });
  const series = r.data ? toChartSeries(r.data, title) : [];
  return (
    <div>
      <Text size="xs" fw={600}>
        {title}
      </Text>
      {r.isLoading ? (
        <Loading what={title} />
      ) : r.error ? (
        <ErrorNote error={r.error} />
      ) : pointCount(series) === 0 ? (
        <Empty />
      ) : (
        <Chart series={series} unit={unit} height={130} showLegend={false} range={[tr.start, tr.end]} onZoom={onZoom} />
      )}
    </div>
  );
}
