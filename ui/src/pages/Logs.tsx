// Logs: search in the seed's syntax or in LogQL, a volume histogram by level (drag or
// click a bar to zoom), lines newest first with their fields, filters by click, the line's
// trace and its request's lines, and live tail over the WebSocket.
import { useEffect, useRef, useState } from "react";
import { Button, Group, Paper, SegmentedControl, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { logs, type LogHit, type LokiStream } from "../api";
import { Chart, Editor } from "../components/Lazy";
import { LogList } from "../components/LogList";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { LEVEL_COLORS } from "../components/palette";
import { absolute, useTimeRange } from "../timeRange";
import { useUrlParam } from "../urlState";
import { stepFor } from "../time";
import { addLogqlFilter, addSearchFilter, defaultQuery, isLogQuery, streamsToHits, type LogMode } from "../logsQuery";
import { pointCount, toChartSeries } from "../metricsData";
import type { ChartSeries } from "../components/TimeSeriesChart";

const PAGE = 100;

export default function Logs() {
  const tr = useTimeRange();
  const client = useQueryClient();
  const [mode, setMode] = useUrlParam("mode", "search");
  const [query, setQuery] = useUrlParam("query");
  const [limitText, setLimit] = useUrlParam("limit", String(PAGE));
  const limit = Math.min(Math.max(Number(limitText) || PAGE, 1), 5000);
  const [draft, setDraft] = useState(query);
  const [shown, setShown] = useState(query);
  if (shown !== query) {
    setShown(query);
    setDraft(query);
  }
  const [tailing, setTailing] = useState(false);
  const m = (mode === "logql" ? "logql" : "search") as LogMode;
  const logql = m === "logql";
  const effective = logql ? query || defaultQuery("logql") : query;
  const metricQuery = logql && !isLogQuery(effective);
  const step = stepFor(tr.end - tr.start, 60);

  const lines = useQuery({
    queryKey: ["logs-lines", m, effective, tr.start, tr.end, limit, tr.tick],
    queryFn: async ({ signal }) => {
      if (!logql) return logs.search(effective, tr.start, tr.end, limit, "desc", signal);
      const r = await logs.lokiRange(effective, tr.start, tr.end, limit, undefined, signal);
      if (r.resultType !== "streams") return { total: null, hits: [] as LogHit[] };
      const hits = streamsToHits(r.result);
      return { total: null, hits };
    },
    enabled: !tailing && !metricQuery,
  });
  const volume = useQuery({
    queryKey: ["logs-volume", m, effective, tr.start, tr.end, step, tr.tick],
    queryFn: async ({ signal }): Promise<ChartSeries[]> => {
      if (!logql) {
        const v = await logs.volume(effective, tr.start, tr.end, step, signal);
        const levels = new Set<string>();
        v.buckets.forEach((b) => Object.keys(b.counts).forEach((l) => levels.add(l)));
        return [...levels].sort().map((level) => ({
          label: level || "unknown",
          color: LEVEL_COLORS[level.toLowerCase()] ?? LEVEL_COLORS.unknown,
          points: v.buckets.map((b) => [Date.parse(b.time), b.counts[level] ?? 0] as [number, number]),
        }));
      }
      const q = metricQuery ? effective : `sum by (level) (count_over_time(${effective} [${step / 1000}s]))`;
      const r = await logs.lokiRange(q, tr.start, tr.end, 1000, step, signal);
      if (r.resultType === "streams") return [];
      return toChartSeries(r, metricQuery ? undefined : "{{level}}").map((s) => ({
        ...s,
        color: metricQuery ? undefined : LEVEL_COLORS[s.label.toLowerCase()] ?? LEVEL_COLORS.unknown,
      }));
    },
    enabled: !tailing,
  });

  const run = (q: string) => {
    setDraft(q);
    if (q.trim() === query) tr.refreshNow();
    else setQuery(q.trim());
  };
  const switchMode = (next: string) => {
    setTailing(false);
    setMode(next, true);
    setQuery("");
    setDraft(defaultQuery(next as LogMode));
  };
  const filter = (field: string, value: string, exclude: boolean) => {
    const next = logql ? addLogqlFilter(effective, field, value, exclude) : addSearchFilter(query, field, value, exclude);
    setQuery(next);
  };
  const requestLink = (id: string) => {
    const q = new URLSearchParams({ mode: "search", query: `request_id:"${id}"`, from: tr.from, to: tr.to });
    return `/logs?${q.toString()}`;
  };
  const cancel = () => client.cancelQueries({ queryKey: ["logs-lines"] });

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={3}>Logs</Title>
        <SegmentedControl
          size="xs"
          value={m}
          onChange={switchMode}
          data={[
            { value: "search", label: "Search syntax" },
            { value: "logql", label: "LogQL" },
          ]}
          data-testid="logs-mode"
        />
      </Group>
      <Group align="flex-start" wrap="nowrap" gap="xs">
        <div style={{ flex: 1, minWidth: 0 }}>
          {logql ? (
            <Editor
              language="logql"
              value={draft || defaultQuery("logql")}
              onChange={setDraft}
              onSubmit={run}
              placeholder='{service="checkout"} |= "payment" | json | error_code="CARD_DECLINED"'
            />
          ) : (
            <TextInput
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => e.key === "Enter" && run(draft)}
              placeholder='level:error AND service:payment-service  ·  request_id:"req-123"  ·  "connection timeout"'
              className="lantern-mono"
              data-testid="logs-search-input"
            />
          )}
        </div>
        <Button onClick={() => run(draft)} data-testid="run-logs">
          Search
        </Button>
        <Button
          variant={tailing ? "filled" : "default"}
          color={tailing ? "red" : undefined}
          onClick={() => setTailing((t) => !t)}
          disabled={!logql || metricQuery}
          title={logql ? "Follow new lines as they arrive" : "Live tail takes a LogQL log query: switch to LogQL"}
          data-testid="live-tail"
        >
          {tailing ? "Stop tail" : "Live tail"}
        </Button>
      </Group>
      {!tailing && (
        <Paper withBorder p="xs">
          <Text size="xs" c="dimmed" mb={4}>
            {metricQuery ? "Result" : "Lines per interval, by level (drag to zoom)"}
          </Text>
          {volume.isFetching && !volume.data ? (
            <Loading what="volume" />
          ) : volume.error ? (
            <ErrorNote error={volume.error} />
          ) : !volume.data || pointCount(volume.data) === 0 ? (
            <Empty />
          ) : (
            <Chart
              series={volume.data}
              bars={!metricQuery}
              stacked={!metricQuery}
              height={metricQuery ? 300 : 140}
              range={[tr.start, tr.end]}
              onZoom={(a, b) => tr.setRange(absolute(a), absolute(b))}
            />
          )}
        </Paper>
      )}
      {tailing ? (
        <LiveTail query={effective} onFilter={filter} requestLink={requestLink} />
      ) : metricQuery ? null : (
        <Paper withBorder p="xs">
          {lines.isFetching && !lines.data ? (
            <Loading what="log lines" onCancel={cancel} />
          ) : lines.error ? (
            <ErrorNote error={lines.error} />
          ) : !lines.data || lines.data.hits.length === 0 ? (
            <Empty>No log lines match in this range.</Empty>
          ) : (
            <>
              <Group justify="space-between" mb={4}>
                <Text size="xs" c="dimmed" data-testid="logs-total">
                  {lines.data.total !== null
                    ? `${lines.data.total.toLocaleString()} lines match; newest ${lines.data.hits.length} shown`
                    : `${lines.data.hits.length} lines shown, newest first`}
                </Text>
                {lines.isFetching && <Loading what="log lines" onCancel={cancel} />}
              </Group>
              <LogList hits={lines.data.hits} onFilter={filter} requestLink={requestLink} />
              {lines.data.hits.length >= limit && limit < 5000 && (
                <Group justify="center" mt="xs">
                  <Button size="xs" variant="default" onClick={() => setLimit(String(Math.min(limit * 2, 5000)), true)}>
                    Show more lines
                  </Button>
                </Group>
              )}
            </>
          )}
        </Paper>
      )}
    </Stack>
  );
}

/** New lines as Lantern stores them, newest first (at most 1,000 kept). */
function LiveTail({
  query,
  onFilter,
  requestLink,
}: {
  query: string;
  onFilter: (f: string, v: string, e: boolean) => void;
  requestLink: (id: string) => string;
}) {
  const [hits, setHits] = useState<LogHit[]>([]);
  const [status, setStatus] = useState("connecting…");
  const socket = useRef<WebSocket | null>(null);
  useEffect(() => {
    const ws = new WebSocket(logs.tailUrl(query));
    socket.current = ws;
    ws.onopen = () => setStatus("following new lines");
    ws.onerror = () => setStatus("the connection failed");
    ws.onclose = (e) => setStatus(e.reason ? `closed: ${e.reason}` : "closed");
    ws.onmessage = (e) => {
      try {
        const msg = JSON.parse(String(e.data)) as { streams?: LokiStream[] };
        const fresh = streamsToHits(msg.streams ?? []);
        if (fresh.length > 0) setHits((h) => [...fresh, ...h].slice(0, 1000));
      } catch {
        setStatus("an unreadable message arrived");
      }
    };
    return () => ws.close();
  }, [query]);
  return (
    <Paper withBorder p="xs" data-testid="tail">
      <Text size="xs" c="dimmed" mb={4}>
        Live tail of <span className="lantern-mono">{query}</span>: {status} · {hits.length} lines
      </Text>
      {hits.length === 0 ? <Empty>Waiting for new lines…</Empty> : <LogList hits={hits} onFilter={onFilter} requestLink={requestLink} />}
    </Paper>
  );
}
