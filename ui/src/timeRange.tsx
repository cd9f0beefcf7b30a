// The time range and auto-refresh every page shares, kept in the URL (`from`, `to`,
// `refresh`) so a link or a reload shows the same view.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { parseDuration, parseTime } from "./time";

export const DEFAULT_FROM = "now-1h";
export const DEFAULT_TO = "now";

export interface TimeRange {
  /** As typed: "now-1h", an RFC 3339 time… */
  from: string;
  to: string;
  /** Resolved, in milliseconds. */
  start: number;
  end: number;
  /** Auto-refresh interval as written ("10s"), or "" when off. */
  refresh: string;
  /** Changes every time relative times are resolved again (a refresh). */
  tick: number;
  setRange: (from: string, to: string) => void;
  setRefresh: (refresh: string) => void;
  refreshNow: () => void;
}

const Context = createContext<TimeRange | null>(null);

/** Resolves a range; an unreadable bound falls back to the default. */
export function resolveRange(from: string, to: string, now: number): { start: number; end: number } {
  const end = parseTime(to, now) ?? now;
  let start = parseTime(from, now) ?? end - 3_600_000;
  if (start >= end) start = end - 60_000;
  return { start, end };
}

export function TimeRangeProvider({ children }: { children: ReactNode }) {
  const [params, setParams] = useSearchParams();
  const from = params.get("from") ?? DEFAULT_FROM;
  const to = params.get("to") ?? DEFAULT_TO;
  const refresh = params.get("refresh") ?? "";
  const [now, setNow] = useState(() => Date.now());
  const [tick, setTick] = useState(0);

  const refreshNow = useCallback(() => {
    setNow(Date.now());
    setTick((t) => t + 1);
  }, []);

  useEffect(() => {
    const ms = parseDuration(refresh);
    if (!ms) return;
    const id = window.setInterval(refreshNow, Math.max(ms, 1000));
    return () => window.clearInterval(id);
  }, [refresh, refreshNow]);

  const setRange = useCallback(
    (f: string, t: string) => {
      setNow(Date.now());
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          next.set("from", f);
          next.set("to", t);
          return next;
        },
        { replace: false },
      );
    },
    [setParams],
  );

  const setRefresh = useCallback(
    (r: string) =>
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          if (r) next.set("refresh", r);
          else next.delete("refresh");
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );

  const value = useMemo(() => {
    const { start, end } = resolveRange(from, to, now);
    return { from, to, start, end, refresh, tick, setRange, setRefresh, refreshNow };
  }, [from, to, now, refresh, tick, setRange, setRefresh, refreshNow]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

/** The page's time range. */
export function useTimeRange(): TimeRange {
  const ctx = useContext(Context);
  if (!ctx) throw new Error("useTimeRange outside TimeRangeProvider");
  return ctx;
}

/** Zooms to an absolute range (a drag on a chart, a click on a histogram bar). */
export function absolute(ms: number): string {
  return new Date(Math.round(ms)).toISOString().replace(/\.000Z$/, "Z");
}
