// The dashboards: saved, provisioned from dashboards_dir, and the Service Overview Lantern
// generates for each service; import Grafana JSON or start an empty one.
import { useState } from "react";
import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useLocation, useNavigate } from "react-router";
import { dashboards } from "../api";
import { Empty, ErrorNote, Loading } from "../components/QueryState";
import { JsonEditor } from "../dashboards/JsonEditor";

const SOURCE_COLOR: Record<string, string> = { saved: "blue", provisioned: "grape", generated: "teal" };

export default function Dashboards() {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const [importing, setImporting] = useState(false);
  const list = useQuery({ queryKey: ["dashboards"], queryFn: ({ signal }) => dashboards.list(signal) });
  const created = async (uid: string) => {
    await client.invalidateQueries({ queryKey: ["dashboards"] });
    navigate(`/dashboards/${uid}${location.search}`);
  };
  const create = async () => {
    const r = await dashboards.create({ title: "New dashboard", panels: [], templating: { list: [] } });
    await created(r.uid);
  };
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={3}>Dashboards</Title>
        <Group gap="xs">
          <Button size="xs" variant="default" onClick={() => setImporting(true)} data-testid="import-dashboard">
            Import Grafana JSON
          </Button>
          <Button size="xs" onClick={create}>
            New dashboard
          </Button>
        </Group>
      </Group>
      <Paper withBorder p="xs">
        {list.isLoading ? (
          <Loading what="dashboards" />
        ) : list.error ? (
          <ErrorNote error={list.error} />
        ) : !list.data || list.data.dashboards.length === 0 ? (
          <Empty>
            No dashboards yet. Import one exported from Grafana, put JSON files in the config's dashboards_dir, or send
            traffic: Lantern makes a Service Overview for every service it sees.
          </Empty>
        ) : (
          <Table highlightOnHover data-testid="dashboard-list">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Title</Table.Th>
                <Table.Th>Tags</Table.Th>
                <Table.Th>Source</Table.Th>
                <Table.Th>uid</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.dashboards.map((d) => (
                <Table.Tr key={d.uid}>
                  <Table.Td>
                    <Anchor component={Link} to={`/dashboards/${d.uid}${location.search}`} data-testid="dashboard-link">
                      {d.title}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {d.tags.map((t) => (
                        <Badge key={t} size="xs" variant="outline" color="gray">
                          {t}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant="light" color={SOURCE_COLOR[d.source]}>
                      {d.source}
                    </Badge>
                    {d.file && (
                      <Text span size="xs" c="dimmed" ml={6}>
                        {d.file}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td className="lantern-mono">{d.uid}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
      {importing && (
        <JsonEditor
          opened
          title="Import a dashboard"
          note="Paste a dashboard exported from Grafana (or Grafana's API body with a dashboard field, or the legacy rows shape)."
          initial=""
          saveLabel="Import"
          onClose={() => setImporting(false)}
          onSave={async (json) => {
            const r = await dashboards.create(json as Record<string, unknown>);
            setImporting(false);
            await created(r.uid);
          }}
        />
      )}
    </Stack>
  );
}
