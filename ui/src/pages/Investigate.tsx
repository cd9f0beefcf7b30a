// Investigate: Lantern's automated walk through the seed's debugging workflow for the
// selected window (or from an alert, an SLO or a query): the verdict naming the service
// and operation, then each step's evidence with links into the other pages.
import { useState } from "react";
import { Alert, Anchor, Badge, Button, Group, List, Paper, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { alerting, investigation, metrics, type Investigation } from "../api";
import { Chart } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { absolute, useTimeRange } from "../timeRange";
import { useUrlParam } from "../urlState";
import { stepFor, formatDuration } from "../time";
import { pointCount, toChartSeries } from "../metricsData";
import { dashboardUidForService } from "../dashboards/serviceOverview";
import { formatValue } from "../format";

export default function Investigate() {
  const tr = useTimeRange();
  const client = useQueryClient();
  const [from, setFrom] = useUrlParam("by", "auto");
  const [value, setValue] = useUrlParam("value");
  const [draft, setDraft] = useState(value);
  const rules = useQuery({ queryKey: ["rules"], queryFn: ({ signal }) => alerting.rules(signal), enabled: from === "alert" });
  const slos = useQuery({ queryKey: ["slos-list"], queryFn: ({ signal }) => alerting.slos(signal), enabled: from === "slo" });
  const opts = from === "auto" || !value ? {} : { [from]: value };
  const result = useQuery({
    queryKey: ["investigate", tr.start, tr.end, from, value, tr.tick],
    queryFn: ({ signal }) => investigation.run(tr.start, tr.end, opts, signal),
    enabled: from === "auto" || value !== "",
  });
  const alertNames = [...new Set((rules.data?.groups ?? []).flatMap((g) => g.rules.filter((r) => r.type === "alerting").map((r) => r.name)))];

  return (
    <Stack gap="sm">
      <Title order={3}>Investigate</Title>
      <Paper withBorder p="sm">
        <Group align="flex-end" gap="sm">
          <Select
            label="Start from"
            w={200}
            value={from}
            onChange={(v) => {
              setFrom(v ?? "auto", true);
              setValue("", true);
              setDraft("");
            }}
            data={[
              { value: "auto", label: "What changed (automatic)" },
              { value: "alert", label: "An alert" },
              { value: "slo", label: "An SLO" },
              { value: "query", label: "A PromQL query" },
            ]}
            allowDeselect={false}
          />
          {from === "alert" && (
            <Select label="Alert" w={260} data={alertNames} value={value || null} onChange={(v) => setValue(v ?? "")} searchable />
          )}
          {from === "slo" && (
            <Select label="SLO" w={260} data={(slos.data?.slos ?? []).map((s) => s.name)} value={value || null} onChange={(v) => setValue(v ?? "")} />
          )}
          {from === "query" && (
            <TextInput
              label="PromQL"
              w={420}
              className="lantern-mono"
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => e.key === "Enter" && setValue(draft)}
            />
          )}
          <Button onClick={() => (from === "query" ? setValue(draft) : tr.refreshNow())} data-testid="run-investigation">
            Investigate this window
          </Button>
        </Group>
        <Text size="xs" c="dimmed" mt={6}>
          The window is the time range at the top; the baseline is the time before the symptom started. The same answer:{" "}
          <span className="lantern-mono">lantern investigate --from … --to …</span> or <span className="lantern-mono">GET /api/v1/investigate</span>.
        </Text>
      </Paper>
      {from !== "auto" && !value ? (
        <Empty>Pick what to start from.</Empty>
      ) : result.isFetching && !result.data ? (
        <Loading what="the investigation" onCancel={() => client.cancelQueries({ queryKey: ["investigate"] })} />
      ) : result.error ? (
        <ErrorNote error={result.error} title="The investigation failed" />
      ) : result.data ? (
        <Findings r={result.data} />
      ) : null}
    </Stack>
  );
}

function range(start: string, end: string): string {
  return `from=${encodeURIComponent(start)}&to=${encodeURIComponent(end)}`;
}

function Findings({ r }: { r: Investigation }) {
  const tr = useTimeRange();
  const e = r.evidence;
  const win = range(r.window.start, r.window.end);
  const incident = r.evidence.symptom ? range(r.evidence.symptom.started, r.window.end) : win;
  const step = stepFor(tr.end - tr.start, 120);
  const q = e.symptom?.query ?? e.largest_change?.query;
  const chart = useQuery({
    queryKey: ["investigate-chart", q, tr.start, tr.end, step],
    queryFn: ({ signal }) => metrics.range(q ?? "", tr.start, tr.end, step, signal),
    enabled: !!q,
  });
  return (
    <Stack gap="sm">
      <Alert color={!r.incident ? "green" : r.suspect ? "red" : "yellow"} title={!r.incident ? "No incident found" : r.suspect ? "Verdict" : "A symptom, no culprit"} data-testid="verdict">
        <Text size="sm">{r.verdict}</Text>
        {r.suspect && (
          <Group gap="xs" mt="xs">
            <Badge color="red" size="lg" data-testid="suspect">
              {r.suspect.service} · {r.suspect.operation}
            </Badge>
            <Badge variant="light">confidence {Math.round(r.suspect.confidence * 100)}%</Badge>
            <Button component={Link} size="xs" variant="light" to={`/dashboards/${dashboardUidForService(r.suspect.service)}?${win}`}>
              {r.suspect.service} overview
            </Button>
          </Group>
        )}
      </Alert>
      <Step n={1} title={r.incident ? `The symptom: ${r.symptom}` : "The largest change"}>
        {chart.isLoading ? (
          <Loading what="the symptom" />
        ) : chart.error ? (
          <ErrorNote error={chart.error} />
        ) : chart.data && pointCount(toChartSeries(chart.data)) > 0 ? (
          <Chart
            series={toChartSeries(chart.data)}
            unit={e.symptom?.what.includes("ratio") ? "percentunit" : e.symptom?.what.includes("latency") ? "s" : undefined}
            height={180}
            range={[tr.start, tr.end]}
            onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))}
          />
        ) : (
          <Empty>No series to draw.</Empty>
        )}
        {q && (
          <Anchor component={Link} size="xs" to={`/explore?query=${encodeURIComponent(q)}&${range(new Date(tr.start).toISOString(), new Date(tr.end).toISOString())}`}>
            Open in Explore
          </Anchor>
        )}
      </Step>
      {r.incident && (
        <>
          <Step n={2} title={`Error logs: ${e.logs?.error_lines ?? 0} in the window, ${e.logs?.baseline_error_lines ?? 0} before`}>
            {(e.logs?.patterns ?? []).length === 0 ? (
              <Empty>No error lines in the window.</Empty>
            ) : (
              <Table fz="xs" data-testid="patterns">
                <Table.Tbody>
                  {e.logs?.patterns.map((p) => (
                    <Table.Tr key={p.service + p.template}>
                      <Table.Td w={80} ta="right" fw={700}>
                        {p.count}
                      </Table.Td>
                      <Table.Td w={90} c="dimmed">
                        ({p.baseline} before)
                      </Table.Td>
                      <Table.Td w={170}>{p.service}</Table.Td>
                      <Table.Td className="lantern-mono">
                        <Anchor component={Link} size="xs" to={`/logs?query=${encodeURIComponent(`level:error AND service:"${p.service}"`)}&${incident}`}>
                          {p.template}
                        </Anchor>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            {(e.logs?.distinct_fields ?? []).length > 0 && (
              <Group gap="xs" mt={4}>
                <Text size="xs">What sets them apart:</Text>
                {e.logs?.distinct_fields.map((d) => (
                  <Anchor key={d.field + d.value} component={Link} to={`/logs?query=${encodeURIComponent(`${d.field}:"${d.value}"`)}&${incident}`}>
                    <Badge variant="light" color="grape" tt="none">
                      {d.field}={d.value} · {d.count} ({d.baseline} before)
                    </Badge>
                  </Anchor>
                ))}
              </Group>
            )}
          </Step>
          <Step n={3} title="Failing requests">
            {(e.requests ?? []).length === 0 ? (
              <Empty>No error line carries a request ID.</Empty>
            ) : (
              <Table fz="xs" data-testid="failing-requests">
                <Table.Tbody>
                  {e.requests?.slice(0, 6).map((x) => (
                    <Table.Tr key={x.request_id}>
                      <Table.Td>
                        <Anchor component={Link} size="xs" to={`/logs?query=${encodeURIComponent(`request_id:"${x.request_id}"`)}&${win}`}>
                          {x.request_id}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        {x.trace_id && (
                          <Anchor component={Link} size="xs" className="lantern-mono" to={`/traces/${x.trace_id}`}>
                            trace {x.trace_id}
                          </Anchor>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Step>
          <Step n={4} title="Where it started, in the traces">
            {e.traces?.kind === "errors" ? (
              <>
                <Text size="xs" c="dimmed">
                  {e.traces.failing_traces} failing traces in the window ({e.traces.baseline_failing_traces} in the baseline); the span where each
                  failure started:
                </Text>
                <List size="sm" data-testid="culprits">
                  {e.traces.origins?.map((o) => (
                    <List.Item key={o.service + o.operation}>
                      <b>{o.service}</b> <span className="lantern-mono">{o.operation}</span>: {Math.round(o.share * 100)}% of failing traces (before:{" "}
                      {Math.round(o.baseline_share * 100)}%) — {o.failures.map((f) => f.what).join(", ")}
                    </List.Item>
                  ))}
                </List>
                {e.traces.compare?.p95_ns != null && (
                  <Text size="xs">
                    p95 now {formatDuration(e.traces.compare.p95_ns / 1e6)}
                    {e.traces.compare.baseline_p95_ns != null
                      ? `, before ${formatDuration(e.traces.compare.baseline_p95_ns / 1e6)}`
                      : " (no spans of it before to compare with)"}
                  </Text>
                )}
              </>
            ) : e.traces?.slowest ? (
              <Text size="sm" data-testid="culprits">
                Most of the slowdown: <b>{e.traces.slowest.service}</b> <span className="lantern-mono">{e.traces.slowest.operation}</span>, its own
                time on the critical path {formatDuration(e.traces.slowest.self_time_after_ns / 1e6)} vs{" "}
                {formatDuration(e.traces.slowest.self_time_before_ns / 1e6)} before
              </Text>
            ) : (
              <Empty>No traces in the window.</Empty>
            )}
            <Group gap="xs" mt={4}>
              {e.traces?.examples.slice(0, 4).map((x) => {
                const id = x.split("/").pop() ?? "";
                return (
                  <Anchor key={id} component={Link} size="xs" className="lantern-mono" to={`/traces/${id}`}>
                    {id.slice(0, 12)}
                  </Anchor>
                );
              })}
            </Group>
          </Step>
          <Step n={5} title={e.saturation?.service ? `Saturation of ${e.saturation.service}` : "Saturation"}>
            {(e.saturation?.series ?? []).length === 0 ? (
              <Empty>No CPU, memory, queue, pool or connection series for the suspect.</Empty>
            ) : (
              <Table fz="xs" data-testid="saturation">
                <Table.Tbody>
                  {e.saturation?.series.map((s) => (
                    <Table.Tr key={s.metric}>
                      <Table.Td className="lantern-mono">{s.metric}</Table.Td>
                      <Table.Td ta="right">{formatValue(s.before)}</Table.Td>
                      <Table.Td>→</Table.Td>
                      <Table.Td fw={700}>{formatValue(s.after)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Step>
        </>
      )}
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
