// One piece of page state kept in the URL's query string, so a view can be shared.
import { useCallback } from "react";
import { useSearchParams } from "react-router";

/** A string parameter of the URL and its setter (an empty value removes it). */
export function useUrlParam(name: string, fallback = ""): [string, (v: string, replace?: boolean) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get(name) ?? fallback;
  const set = useCallback(
    (v: string, replace = false) =>
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          if (v === "") next.delete(name);
          else next.set(name, v);
          return next;
        },
        { replace },
      ),
    [name, setParams],
  );
  return [value, set];
}

/** Builds a link to a page that keeps the current time range. */
export function linkWithRange(path: string, params: Record<string, string | undefined>, from: string, to: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  q.set("from", from);
  q.set("to", to);
  return `${path}?${q.toString()}`;
}
