// Numbers for people, in the units Grafana panels name (`fieldConfig.defaults.unit`).

const SI = [
  [1e12, "T"],
  [1e9, "G"],
  [1e6, "M"],
  [1e3, "k"],
] as const;

function trim(n: number, digits: number): string {
  return n.toFixed(digits).replace(/\.0+$|(\.\d*[1-9])0+$/, "$1");
}

/** A plain number, shortened with SI suffixes. */
export function short(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  for (const [s, suffix] of SI) if (a >= s) return trim(v / s, digits) + suffix;
  if (a === 0) return "0";
  if (a < 0.001) return v.toExponential(1);
  return trim(v, a < 1 ? 3 : digits);
}

function seconds(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0 s";
  if (a < 1e-3) return `${trim(v * 1e6, 1)} µs`;
  if (a < 1) return `${trim(v * 1e3, 1)} ms`;
  if (a < 60) return `${trim(v, 2)} s`;
  if (a < 3600) return `${trim(v / 60, 1)} min`;
  if (a < 86400) return `${trim(v / 3600, 1)} h`;
  return `${trim(v / 86400, 1)} d`;
}

function bytes(v: number, base = 1024): string {
  const units = base === 1024 ? ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] : ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return `${v < 0 ? "-" : ""}${trim(x, 1)} ${units[i]}`;
}

/** Formats a value in a Grafana unit; unknown units fall back to `short` with the unit as suffix. */
export function formatValue(v: number | null | undefined, unit?: string, decimals?: number): string {
  if (v === null || v === undefined) return "—";
  if (Number.isNaN(v)) return "NaN";
  const d = decimals ?? 2;
  switch (unit ?? "short") {
    case "":
    case "short":
    case "none":
      return short(v, d);
    case "percent":
      return `${trim(v, d)}%`;
    case "percentunit":
      return `${trim(v * 100, d)}%`;
    case "s":
      return seconds(v);
    case "ms":
      return seconds(v / 1000);
    case "µs":
    case "us":
      return seconds(v / 1e6);
    case "ns":
      return seconds(v / 1e9);
    case "bytes":
    case "decbytes":
      return bytes(v, unit === "bytes" ? 1024 : 1000);
    case "reqps":
      return `${short(v, d)} req/s`;
    case "ops":
      return `${short(v, d)} ops/s`;
    default:
      return `${short(v, d)} ${unit}`;
  }
}

/** A Prometheus series' name as Prometheus's UI writes it: `name{a="b"}`. */
export function seriesName(labels: Record<string, string>): string {
  const name = labels.__name__ ?? "";
  const rest = Object.entries(labels)
    .filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return rest ? `${name}{${rest}}` : name || "{}";
}

/** Grafana's legend templates: `{{service}} {{status}}`. */
export function legendFormat(template: string | undefined, labels: Record<string, string>): string {
  if (!template || template === "__auto") return seriesName(labels);
  return template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k: string) => labels[k] ?? "");
}
