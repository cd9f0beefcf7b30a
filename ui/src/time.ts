// Time ranges as Grafana writes them: "now", "now-1h", "now-7d/d" (rounding is ignored),
// absolute RFC 3339 times, or Unix seconds/milliseconds. All functions are pure.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A Prometheus duration ("5m", "1h30m", "250ms") in milliseconds, or null. */
export function parseDuration(s: string): number | null {
  const text = s.trim();
  if (text === "") return null;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

/** A time expression in milliseconds since the epoch, or null when it is not one. */
export function parseTime(s: string, now: number): number | null {
  const text = s.trim();
  if (text === "") return null;
  if (text.startsWith("now")) {
    const rest = text.slice(3).replace(/\/\w+$/, "");
    if (rest === "") return now;
    const sign = rest[0];
    if (sign !== "-" && sign !== "+") return null;
    const d = parseDuration(rest.slice(1));
    if (d === null) return null;
    return sign === "-" ? now - d : now + d;
  }
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Seconds until the year 5138; milliseconds above that.
    return n < 1e11 ? n * 1000 : n;
  }
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : text.replace(" ", "T") + "Z";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** A duration for people: "1h 30m", "250ms", "2.5s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, secs] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= secs) {
      parts.push(`${Math.floor(rest / secs)}${unit}`);
      rest %= secs;
    }
  }
  return parts.slice(0, 2).join(" ");
}

/** A duration in Prometheus's syntax ("1h30m"), whole seconds at least. */
export function promDuration(ms: number): string {
  let rest = Math.max(1, Math.round(ms / 1000));
  let out = "";
  for (const [unit, secs] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= secs) {
      out += `${Math.floor(rest / secs)}${unit}`;
      rest %= secs;
    }
  }
  return out;
}

/** A step (ms) that gives about `points` points over the range, rounded to a nice value. */
export function stepFor(rangeMs: number, points = 250): number {
  const raw = Math.max(rangeMs / points, 1000);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  for (const s of nice) if (s * 1000 >= raw) return s * 1000;
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}

/** An absolute time as shown in inputs and tables: "2026-02-11 14:30:00" (UTC). */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace("Z", "");
}

/** An absolute time with milliseconds, for log lines and spans. */
export function formatTimeMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/** How a range reads in the picker's button: "Last 1 hour" or "from – to". */
export function describeRange(from: string, to: string): string {
  const m = /^now-(\d+)([smhdwy])$/.exec(from.trim());
  if (m && to.trim() === "now") {
    const names: Record<string, string> = { s: "second", m: "minute", h: "hour", d: "day", w: "week", y: "year" };
    const n = Number(m[1]);
    return `Last ${n} ${names[m[2]]}${n === 1 ? "" : "s"}`;
  }
  const now = Date.now();
  const show = (s: string) => {
    const t = parseTime(s, now);
    return s.startsWith("now") || t === null ? s : formatTime(t);
  };
  return `${show(from)} → ${show(to)}`;
}
