// One dashboard: its variables, rows and panels on Grafana's 24-column grid; edit as
// JSON, save a copy, export, delete.
import { useEffect, useMemo, useState } from "react";
import { ActionIcon, Anchor, Badge, Button, Group, Stack, Text, Title, UnstyledButton } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { dashboards, type DashboardSummary } from "../api";
import { ErrorNote, Loading } from "../components/QueryState";
import { absolute, useTimeRange } from "../timeRange";
import { PanelView } from "../dashboards/PanelView";
import { JsonEditor } from "../dashboards/JsonEditor";
import { VariableBar, type VariableState } from "../dashboards/VariableBar";
import { sections, type Dashboard, type Panel, type VarValues } from "../dashboards/model";
import { initialValues, resolveOptions } from "../dashboards/variables";
import type { PanelContext } from "../dashboards/panels/context";

export default function DashboardPage() {
  const { uid = "" } = useParams();
  const tr = useTimeRange();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [editing, setEditing] = useState(false);
  const loaded = useQuery({ queryKey: ["dashboard", uid], queryFn: ({ signal }) => dashboards.get(uid, signal) });
  const dash = loaded.data?.dashboard as Dashboard | undefined;
  const meta = loaded.data?.meta;

  // A dashboard's own default range applies when the link does not set one.
  useEffect(() => {
    if (dash?.time && !params.has("from")) tr.setRange(dash.time.from, dash.time.to);
    // Only when a dashboard is first shown.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dash?.uid]);

  const list = useMemo(() => dash?.templating?.list ?? [], [dash]);
  const urlVars = useMemo(() => {
    const out: Record<string, string[]> = {};
    for (const v of list) out[v.name] = params.getAll(`var-${v.name}`);
    return out;
  }, [list, params]);
  const vars = useQuery({
    queryKey: ["dashboard-vars", uid, dash?.version, urlVars, Math.round(tr.start / 60_000), Math.round(tr.end / 60_000)],
    queryFn: async ({ signal }): Promise<VariableState[]> => {
      const values: VarValues = {};
      const out: VariableState[] = [];
      for (const v of list) {
        let options: VariableState["options"] = [];
        try {
          options = await resolveOptions(v, dash ?? {}, values, list, tr.start, tr.end, signal);
        } catch {
          // A variable whose query fails keeps its saved value; panels show their own errors.
        }
        values[v.name] = initialValues(v, urlVars[v.name] ?? [], options);
        out.push({ v, options, values: values[v.name] });
      }
      return out;
    },
    enabled: !!dash,
  });

  if (loaded.isLoading) return <Loading what="dashboard" />;
  if (loaded.error || !dash || !meta) return <ErrorNote error={loaded.error ?? "no dashboard"} title={`Dashboard ${uid}`} />;

  const values: VarValues = Object.fromEntries((vars.data ?? []).map((s) => [s.v.name, s.values]));
  const ctx: PanelContext = {
    dash,
    vars: list,
    values,
    start: tr.start,
    end: tr.end,
    tick: tr.tick,
    onZoom: (a, b) => tr.setRange(absolute(a), absolute(b)),
  };
  const setVar = (name: string, vals: string[]) =>
    setParams((p) => {
      const next = new URLSearchParams(p);
      next.delete(`var-${name}`);
      vals.forEach((v) => next.append(`var-${name}`, v));
      return next;
    });
  const readOnly = meta.source !== "saved";
  const save = async (json: unknown) => {
    const r = readOnly
      ? await dashboards.create({ ...(json as object), uid: undefined, title: `${(json as Dashboard).title ?? "Dashboard"} (copy)` })
      : await dashboards.save(uid, json as Record<string, unknown>);
    await client.invalidateQueries({ queryKey: ["dashboard"] });
    await client.invalidateQueries({ queryKey: ["dashboards"] });
    setEditing(false);
    if (r.uid !== uid) navigate(`/dashboards/${r.uid}`);
  };
  const remove = async () => {
    if (!window.confirm(`Delete the dashboard “${dash.title}”?`)) return;
    await dashboards.remove(uid);
    await client.invalidateQueries({ queryKey: ["dashboards"] });
    navigate("/dashboards");
  };

  return (
    <Stack gap="sm">
      <Group justify="space-between" align="flex-start">
        <div>
          <Group gap="xs">
            <Title order={3} data-testid="dashboard-title">
              {dash.title}
            </Title>
            <SourceBadge meta={meta} />
          </Group>
          {dash.description && (
            <Text size="sm" c="dimmed">
              {dash.description}
            </Text>
          )}
        </div>
        <Group gap="xs">
          <Button size="xs" variant="default" onClick={() => setEditing(true)} data-testid="edit-json">
            {readOnly ? "Save a copy…" : "Edit JSON"}
          </Button>
          <Button size="xs" variant="default" component="a" href={dashboards.exportUrl(uid)} download={`${uid}.json`}>
            Export JSON
          </Button>
          {!readOnly && (
            <Button size="xs" color="red" variant="light" onClick={remove}>
              Delete
            </Button>
          )}
        </Group>
      </Group>
      {vars.data && <VariableBar vars={vars.data} onChange={setVar} />}
      {list.length > 0 && !vars.data ? (
        // Panels wait for the variables their queries name.
        <Loading what="variables" />
      ) : (
        sections(dash).map((s, i) => <SectionView key={s.row?.id ?? `top-${i}`} row={s.row} panels={s.panels} ctx={ctx} />)
      )}
      {(dash.panels ?? []).length === 0 && (
        <Text c="dimmed" size="sm">
          This dashboard has no panels yet. <Anchor onClick={() => setEditing(true)}>Edit its JSON</Anchor> to add some.
        </Text>
      )}
      {editing && (
        <JsonEditor
          opened
          title={readOnly ? `Save a copy of “${dash.title}”` : `Edit “${dash.title}”`}
          note={readOnly ? `This dashboard is ${meta.source}${meta.file ? ` from ${meta.file}` : ""}; saving makes a copy you can change.` : undefined}
          initial={JSON.stringify(dash, null, 2)}
          saveLabel={readOnly ? "Save copy" : "Save"}
          onClose={() => setEditing(false)}
          onSave={save}
        />
      )}
    </Stack>
  );
}

function SourceBadge({ meta }: { meta: DashboardSummary }) {
  const color = meta.source === "saved" ? "blue" : meta.source === "provisioned" ? "grape" : "teal";
  return (
    <Badge variant="light" color={color} title={meta.file}>
      {meta.source}
    </Badge>
  );
}

function SectionView({ row, panels, ctx }: { row: Panel | null; panels: Panel[]; ctx: PanelContext }) {
  const [collapsed, setCollapsed] = useState(row?.collapsed ?? false);
  const top = Math.min(...panels.map((p) => p.gridPos?.y ?? 0));
  const shifted = panels.map((p) => ({ ...p, gridPos: { x: 0, w: 12, h: 8, ...p.gridPos, y: (p.gridPos?.y ?? 0) - top } }));
  return (
    <div data-testid="dashboard-section">
      {row && (
        <UnstyledButton onClick={() => setCollapsed((c) => !c)} mb={6} data-testid="row-header">
          <Group gap={6}>
            <ActionIcon component="span" size="sm" variant="subtle" color="gray">
              {collapsed ? "▸" : "▾"}
            </ActionIcon>
            <Text fw={700}>{row.title || "Row"}</Text>
            {collapsed && (
              <Text size="xs" c="dimmed">
                ({panels.length} panels)
              </Text>
            )}
          </Group>
        </UnstyledButton>
      )}
      {!collapsed && (
        <div className="lantern-grid">
          {shifted.map((p, i) => (
            <PanelView key={p.id ?? i} panel={p} ctx={ctx} />
          ))}
        </div>
      )}
    </div>
  );
}
