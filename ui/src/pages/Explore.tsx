// Explore metrics: a PromQL editor, the graph (legend, tooltip, drag to zoom, exemplars
// that open their trace) and the table of an instant query. The query is in the URL.
import { useState } from "react";
import { Button, Group, SegmentedControl, Stack, Table, Text, Title, Paper, ScrollArea, Badge } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { metrics } from "../api";
import { Chart, Editor } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { absolute, useTimeRange } from "../timeRange";
import { useUrlParam } from "../urlState";
import { stepFor } from "../time";
import { exemplarTraceId, pointCount, sampleValue, toChartExemplars, toChartSeries } from "../metricsData";
import { formatValue, seriesName } from "../format";

export default function Explore() {
  const tr = useTimeRange();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [query, setQuery] = useUrlParam("query");
  const [tab, setTab] = useUrlParam("tab", "graph");
  const [draft, setDraft] = useState(query);
  const [shown, setShown] = useState(query);
  if (shown !== query) {
    // The query changed from outside (a link, back/forward): the editor follows it.
    setShown(query);
    setDraft(query);
  }
  const step = stepFor(tr.end - tr.start);

  const range = useQuery({
    queryKey: ["explore-range", query, tr.start, tr.end, step, tr.tick],
    queryFn: ({ signal }) => metrics.range(query, tr.start, tr.end, step, signal),
    enabled: query !== "" && tab === "graph",
  });
  const exemplars = useQuery({
    queryKey: ["explore-exemplars", query, tr.start, tr.end, tr.tick],
    queryFn: ({ signal }) => metrics.exemplars(query, tr.start, tr.end, signal),
    enabled: query !== "" && tab === "graph" && range.isSuccess,
  });
  const instant = useQuery({
    queryKey: ["explore-instant", query, tr.end, tr.tick],
    queryFn: ({ signal }) => metrics.instant(query, tr.end, signal),
    enabled: query !== "" && tab === "table",
  });

  const run = (q: string) => {
    setDraft(q);
    if (q === query) tr.refreshNow();
    else setQuery(q.trim());
  };
  const cancel = () => client.cancelQueries({ queryKey: [tab === "graph" ? "explore-range" : "explore-instant"] });
  const series = range.data ? toChartSeries(range.data) : [];
  const dots = exemplars.data ? toChartExemplars(exemplars.data) : [];

  return (
    <Stack gap="sm">
      <Title order={3}>Explore metrics</Title>
      <Group align="flex-start" wrap="nowrap" gap="xs">
        <div style={{ flex: 1, minWidth: 0 }}>
          <Editor
            language="promql"
            value={draft}
            onChange={setDraft}
            onSubmit={run}
            placeholder="Expression (press Enter to run), e.g. sum by (status) (rate(http_requests_total[5m]))"
            lookback={Math.max(tr.end - tr.start, 3_600_000)}
          />
        </div>
        <Button onClick={() => run(draft)} data-testid="run-query">
          Run query
        </Button>
      </Group>
      <Group justify="space-between">
        <SegmentedControl
          size="xs"
          value={tab}
          onChange={(v) => setTab(v, true)}
          data={[
            { value: "graph", label: "Graph" },
            { value: "table", label: "Table" },
          ]}
        />
        {tab === "graph" && range.data && (
          <Text size="xs" c="dimmed">
            {series.length} series · step {step / 1000}s{dots.length > 0 ? ` · ${dots.length} exemplars (click a dot for its trace)` : ""}
          </Text>
        )}
      </Group>
      <Paper withBorder p="sm">
        {query === "" ? (
          <Empty>Type a PromQL expression and press Enter.</Empty>
        ) : tab === "graph" ? (
          range.isFetching && !range.data ? (
            <Loading what="series" onCancel={cancel} />
          ) : range.error ? (
            <ErrorNote error={range.error} />
          ) : pointCount(series) === 0 ? (
            <Empty />
          ) : (
            <>
              {range.isFetching && <Loading what="series" onCancel={cancel} />}
              <Chart
                series={series}
                exemplars={dots}
                height={340}
                range={[tr.start, tr.end]}
                onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))}
                onExemplarClick={(e) => {
                  const id = exemplarTraceId(e.labels);
                  if (id) navigate(`/traces/${id}`);
                }}
              />
            </>
          )
        ) : instant.isFetching && !instant.data ? (
          <Loading what="result" onCancel={cancel} />
        ) : instant.error ? (
          <ErrorNote error={instant.error} />
        ) : instant.data ? (
          <InstantTable result={instant.data} />
        ) : null}
      </Paper>
    </Stack>
  );
}

function InstantTable({ result }: { result: import("../api").QueryResult }) {
  if (result.resultType === "scalar" || result.resultType === "string") {
    return (
      <Text className="lantern-mono" data-testid="instant-scalar">
        {result.resultType}: {result.result[1]}
      </Text>
    );
  }
  const rows =
    result.resultType === "vector"
      ? result.result.map((s) => ({ labels: s.metric, value: s.value[1] }))
      : result.result.map((s) => ({
          labels: s.metric,
          value: s.values.map(([t, v]) => `${v} @${t}`).join("\n"),
        }));
  if (rows.length === 0) return <Empty>No series match at this time.</Empty>;
  return (
    <ScrollArea.Autosize mah={600}>
      <Table striped highlightOnHover data-testid="instant-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Series</Table.Th>
            <Table.Th style={{ textAlign: "right" }}>Value</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r, i) => (
            <Table.Tr key={i}>
              <Table.Td className="lantern-mono">{seriesName(r.labels)}</Table.Td>
              <Table.Td className="lantern-mono" style={{ textAlign: "right", whiteSpace: "pre" }}>
                {result.resultType === "vector" ? (
                  <>
                    {r.value}{" "}
                    <Badge size="xs" variant="light" color="gray">
                      {formatValue(sampleValue(r.value))}
                    </Badge>
                  </>
                ) : (
                  r.value
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea.Autosize>
  );
}
