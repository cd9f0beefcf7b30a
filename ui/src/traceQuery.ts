// Trace searches as Jaeger's API takes them.

/** `key=value key2="a b"` into Jaeger's tags JSON, with the status as Jaeger's `error` tag. */
export function tagsJson(tags: string, status: string): string | undefined {
  const out: Record<string, string> = {};
  for (const m of tags.matchAll(/([^\s=]+)=("([^"]*)"|\S+)/g)) out[m[1]] = m[3] ?? m[2];
  if (status === "error") out.error = "true";
  if (status === "ok") out.error = "false";
  return Object.keys(out).length > 0 ? JSON.stringify(out) : undefined;
}
