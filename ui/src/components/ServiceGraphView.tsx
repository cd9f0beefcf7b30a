// The service map drawn and laid out by Cytoscape (breadth-first from the services nobody
// calls, turned so callers are on the left).
import { useEffect, useRef } from "react";
import cytoscape from "cytoscape";
import { formatValue } from "../format";
import { healthColor, type ServiceGraph, type Stats } from "../serviceGraph";

/** An edge's numbers, on two short lines. */
function edgeLabel(s: Stats): string {
  const first = `${formatValue(s.rate)}/s${s.errorRatio !== null ? ` · ${formatValue(s.errorRatio, "percentunit")} err` : ""}`;
  return s.p95 !== null ? `${first}\np95 ${formatValue(s.p95, "s")}` : first;
}

function label(s: Stats): string {
  const parts = [`${formatValue(s.rate)} req/s`];
  if (s.errorRatio !== null) parts.push(`${formatValue(s.errorRatio, "percentunit")} err`);
  if (s.p95 !== null) parts.push(`p95 ${formatValue(s.p95, "s")}`);
  return parts.join(" · ");
}

/** Services no other service calls: where requests enter (all of them, if every one is called). */
function roots(graph: ServiceGraph): string[] {
  const called = new Set(graph.edges.map((e) => e.server));
  const r = [...graph.nodes.keys()].filter((n) => !called.has(n));
  return r.length > 0 ? r : [...graph.nodes.keys()];
}

export default function ServiceGraphView({
  graph,
  selected,
  onSelect,
}: {
  graph: ServiceGraph;
  selected: string | null;
  onSelect: (service: string) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const cy = useRef<cytoscape.Core | null>(null);
  const select = useRef(onSelect);
  useEffect(() => {
    select.current = onSelect;
  });

  useEffect(() => {
    if (!host.current) return;
    const elements: cytoscape.ElementDefinition[] = [
      ...[...graph.nodes].map(([name, s]) => ({
        data: { id: name, label: `${name}\n${label(s)}`, color: healthColor(s.errorRatio) },
      })),
      ...graph.edges.map((e) => ({
        data: {
          id: `${e.client}->${e.server}`,
          source: e.client,
          target: e.server,
          label: edgeLabel(e.stats),
          color: healthColor(e.stats.errorRatio),
        },
      })),
    ];
    const c = cytoscape({
      container: host.current,
      elements,
      wheelSensitivity: 0.3,
      minZoom: 0.3,
      maxZoom: 1.3,
      style: [
        {
          selector: "node",
          style: {
            shape: "round-rectangle",
            width: 210,
            height: 58,
            "background-color": "#fff",
            "border-width": 3,
            "border-color": "data(color)",
            label: "data(label)",
            "text-wrap": "wrap",
            "text-valign": "center",
            "text-halign": "center",
            "font-size": 12,
            "text-max-width": "200px",
            color: "#222",
          },
        },
        { selector: "node:selected", style: { "background-color": "#fff4e6", "border-width": 4 } },
        {
          selector: "edge",
          style: {
            width: 2,
            "curve-style": "bezier",
            "line-color": "data(color)",
            "target-arrow-color": "data(color)",
            "target-arrow-shape": "triangle",
            label: "data(label)",
            "font-size": 11,
            "text-wrap": "wrap",
            "text-rotation": "autorotate",
            "text-margin-y": -14,
            color: "#444",
            "text-background-color": "#fff",
            "text-background-opacity": 0.85,
            "text-background-padding": "2px",
          },
        },
      ],
      layout: {
        name: "breadthfirst",
        directed: true,
        roots: roots(graph),
        spacingFactor: 1.1,
        fit: true,
        padding: 30,
        // Levels go left to right instead of top to bottom.
        transform: (_node: cytoscape.NodeSingular, pos: cytoscape.Position) => ({ x: pos.y * 1.6, y: pos.x * 0.6 }),
      } as cytoscape.LayoutOptions,
    });
    c.on("tap", "node", (e) => select.current(e.target.id()));
    cy.current = c;
    return () => {
      c.destroy();
      cy.current = null;
    };
  }, [graph]);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    c.nodes().unselect();
    if (selected) c.getElementById(selected).select();
  }, [selected, graph]);

  return <div ref={host} className="lantern-cy" data-testid="service-graph" />;
}
