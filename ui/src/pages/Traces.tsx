// Trace search: service, operation, tags, duration bounds, status; the results as a
// duration-over-time scatter (click a dot for its trace) and a table.
import { useMemo, useState } from "react";
import { Badge, Button, Group, Paper, Select, SegmentedControl, Stack, Table, Text, TextInput, Title, NumberInput } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { traces, type JaegerTrace } from "../api";
import { Chart } from "../components/Lazy";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { colorForName } from "../components/palette";
import { absolute, useTimeRange } from "../timeRange";
import { buildTree } from "../traceModel";
import { tagsJson } from "../traceQuery";
import { formatDuration, formatTimeMs } from "../time";

const FIELDS = ["service", "operation", "tags", "minDuration", "maxDuration", "status", "limit"] as const;
type Form = Record<(typeof FIELDS)[number], string>;

export default function Traces() {
  const tr = useTimeRange();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const current = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ""])) as Form;
  const [form, setForm] = useState<Form>(current);
  const searched = params.has("service") || params.has("tags") || params.has("status");
  const limit = Number(current.limit) || 50;

  const services = useQuery({ queryKey: ["trace-services"], queryFn: ({ signal }) => traces.services(signal) });
  const operations = useQuery({
    queryKey: ["trace-operations", form.service],
    queryFn: ({ signal }) => traces.operations(form.service, signal),
    enabled: form.service !== "",
  });
  const results = useQuery({
    queryKey: ["trace-search", current, tr.start, tr.end, tr.tick],
    queryFn: ({ signal }) =>
      traces.search(
        {
          service: current.service || undefined,
          operation: current.operation || undefined,
          tags: tagsJson(current.tags, current.status),
          minDuration: current.minDuration || undefined,
          maxDuration: current.maxDuration || undefined,
          limit,
        },
        tr.start,
        tr.end,
        signal,
      ),
    enabled: searched,
  });

  const submit = () =>
    setParams((p) => {
      const next = new URLSearchParams(p);
      for (const f of FIELDS) {
        if (form[f]) next.set(f, form[f]);
        else next.delete(f);
      }
      if (!next.has("service") && !next.has("tags") && !next.has("status")) next.set("status", "any");
      return next;
    });
  const set = (f: keyof Form) => (v: string | null) => setForm((s) => ({ ...s, [f]: v ?? "", ...(f === "service" ? { operation: "" } : {}) }));

  const summaries = useMemo(() => (results.data ?? []).map(summarize).sort((a, b) => b.start - a.start), [results.data]);
  const dots = useMemo(
    () =>
      summaries.map((s) => ({
        time: s.start / 1000,
        value: s.duration / 1e6,
        labels: { trace_id: s.id, root: `${s.rootService}: ${s.rootOperation}`, spans: String(s.spans), errors: String(s.errors) },
        series: "traces",
      })),
    [summaries],
  );

  return (
    <Stack gap="sm">
      <Title order={3}>Traces</Title>
      <Paper withBorder p="sm">
        <Group align="flex-end" gap="sm">
          <Select
            label="Service"
            placeholder="any"
            searchable
            clearable
            w={190}
            data={services.data ?? []}
            value={form.service || null}
            onChange={set("service")}
            data-testid="trace-service"
          />
          <Select
            label="Operation"
            placeholder="any"
            searchable
            clearable
            w={210}
            data={operations.data ?? []}
            value={form.operation || null}
            onChange={set("operation")}
            disabled={!form.service}
          />
          <TextInput
            label="Tags"
            placeholder="http.status_code=500 user.id=u-1"
            w={240}
            value={form.tags}
            onChange={(e) => set("tags")(e.currentTarget.value)}
            onKeyDown={(e) => e.key === "Enter" && submit()}
          />
          <TextInput label="Min duration" placeholder="100ms" w={100} value={form.minDuration} onChange={(e) => set("minDuration")(e.currentTarget.value)} />
          <TextInput label="Max duration" placeholder="5s" w={100} value={form.maxDuration} onChange={(e) => set("maxDuration")(e.currentTarget.value)} />
          <div>
            <Text size="sm" fw={500} mb={2}>
              Status
            </Text>
            <SegmentedControl
              value={form.status || "any"}
              onChange={set("status")}
              data={[
                { value: "any", label: "Any" },
                { value: "error", label: "Error" },
                { value: "ok", label: "OK" },
              ]}
            />
          </div>
          <NumberInput label="Limit" w={80} min={1} max={1500} value={Number(form.limit) || 50} onChange={(v) => set("limit")(String(v))} />
          <Button onClick={submit} data-testid="find-traces">
            Find traces
          </Button>
        </Group>
      </Paper>
      {!searched ? (
        <Empty>Pick a service (or a status) and press “Find traces”.</Empty>
      ) : results.isFetching && !results.data ? (
        <Loading what="traces" onCancel={() => client.cancelQueries({ queryKey: ["trace-search"] })} />
      ) : results.error ? (
        <ErrorNote error={results.error} />
      ) : summaries.length === 0 ? (
        <Empty>No traces match in this range.</Empty>
      ) : (
        <>
          <Paper withBorder p="xs">
            <Text size="xs" c="dimmed">
              Duration of each trace over time (click a dot to open it; drag to zoom)
            </Text>
            <Chart
              series={[]}
              exemplars={dots}
              unit="s"
              height={200}
              showLegend={false}
              pointName="trace"
              range={[tr.start, tr.end]}
              onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))}
              onExemplarClick={(e) => navigate(`/traces/${e.labels.trace_id}`)}
            />
          </Paper>
          <Paper withBorder p="xs">
            <Text size="xs" c="dimmed" mb={4}>
              {summaries.length} traces{summaries.length >= limit ? ` (the limit; raise it to see more)` : ""}
            </Text>
            <Table highlightOnHover fz="sm" data-testid="trace-results">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Trace</Table.Th>
                  <Table.Th>Services</Table.Th>
                  <Table.Th ta="right">Spans</Table.Th>
                  <Table.Th ta="right">Duration</Table.Th>
                  <Table.Th>Started (UTC)</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {summaries.map((s) => (
                  <Table.Tr key={s.id}>
                    <Table.Td>
                      <Link to={`/traces/${s.id}`} data-testid="trace-link">
                        {s.rootService}: {s.rootOperation}
                      </Link>{" "}
                      <Text span size="xs" c="dimmed" className="lantern-mono">
                        {s.id.slice(0, 12)}
                      </Text>
                      {s.errors > 0 && (
                        <Badge ml={6} size="xs" color="red">
                          {s.errors} error{s.errors > 1 ? "s" : ""}
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {s.services.map((svc) => (
                          <Badge key={svc} size="xs" variant="light" color={colorForName(svc)} style={{ color: colorForName(svc) }}>
                            {svc}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td ta="right">{s.spans}</Table.Td>
                    <Table.Td ta="right">{formatDuration(s.duration / 1000)}</Table.Td>
                    <Table.Td className="lantern-mono">{formatTimeMs(s.start / 1000)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Paper>
        </>
      )}
    </Stack>
  );
}

interface Summary {
  id: string;
  start: number;
  duration: number;
  spans: number;
  errors: number;
  services: string[];
  rootService: string;
  rootOperation: string;
}

function summarize(t: JaegerTrace): Summary {
  const tree = buildTree(t);
  return {
    id: t.traceID,
    start: tree.start,
    duration: tree.duration,
    spans: t.spans.length,
    errors: tree.errors,
    services: tree.services,
    rootService: tree.root?.service ?? "?",
    rootOperation: tree.root?.span.operationName ?? "(missing root span)",
  };
}
