// Series colours: Grafana's classic palette, so charts look familiar.
const PALETTE = [
  "#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0",
  "#508642", "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477",
];

/** The i-th series' colour. */
export function colorFor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** A stable colour for a name (a service), the same on every page. */
export function colorForName(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/** Log levels as Grafana colours them. */
export const LEVEL_COLORS: Record<string, string> = {
  critical: "#705da0",
  fatal: "#705da0",
  error: "#e24d42",
  warn: "#eab839",
  warning: "#eab839",
  info: "#7eb26d",
  debug: "#1f78c1",
  trace: "#6ed0e0",
  unknown: "#999999",
};
