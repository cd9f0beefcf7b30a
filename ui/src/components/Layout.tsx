// The frame of every page: the navigation bar, the time-range picker and auto-refresh.
import type { ReactNode } from "react";
import { AppShell, Burger, Group, NavLink, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Link, useLocation } from "react-router";
import { TimeRangeProvider } from "../timeRange";
import { TimeRangePicker } from "./TimeRangePicker";
import { RefreshPicker } from "./RefreshPicker";

export const PAGES = [
  { path: "/dashboards", label: "Dashboards" },
  { path: "/explore", label: "Explore metrics" },
  { path: "/logs", label: "Logs" },
  { path: "/traces", label: "Traces" },
  { path: "/service-map", label: "Service map" },
  { path: "/alerts", label: "Alerts & rules" },
  { path: "/slos", label: "SLOs" },
  { path: "/investigate", label: "Investigate" },
];

export function Layout({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  return (
    <TimeRangeProvider>
      <AppShell
        header={{ height: 52 }}
        navbar={{ width: 180, breakpoint: "sm", collapsed: { mobile: !opened } }}
        padding="md"
      >
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group gap="xs" wrap="nowrap">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
              <img src="/favicon.svg" width={24} height={24} alt="" />
              <Text fw={700} size="lg">
                Lantern
              </Text>
            </Group>
            <Group gap="xs" wrap="nowrap">
              <TimeRangePicker />
              <RefreshPicker />
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs" component="nav" aria-label="Pages">
          {PAGES.map((p) => (
            <NavLink
              key={p.path}
              component={Link}
              to={keepRange(p.path, location.search)}
              label={p.label}
              active={location.pathname === p.path || location.pathname.startsWith(p.path + "/")}
              onClick={close}
            />
          ))}
        </AppShell.Navbar>
        <AppShell.Main>{children}</AppShell.Main>
      </AppShell>
    </TimeRangeProvider>
  );
}

/** A page link that carries the time range and refresh of the current view along. */
function keepRange(path: string, search: string): string {
  const cur = new URLSearchParams(search);
  const next = new URLSearchParams();
  for (const k of ["from", "to", "refresh"]) {
    const v = cur.get(k);
    if (v) next.set(k, v);
  }
  const qs = next.toString();
  return qs ? `${path}?${qs}` : path;
}
