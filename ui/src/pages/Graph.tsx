import { useId, useMemo, useRef, useState, type ReactNode } from 'react';
import { listDatasets } from '../api/datasets';
import { datasetGraph, type GraphData } from '../api/graph';
import { Notice, Page, Table, useLoad } from '../components';
import { GraphCanvas } from '../graph/GraphCanvas';
import { fit, iterationsFor, layout, MAX_DRAWN } from '../graph/layout';
import { NodePanel, type Neighbour } from '../graph/NodePanel';
import { useViewport } from '../graph/useViewport';
import { Link } from '../router';

/**
 * The knowledge graph of a dataset (api/graph) drawn as SVG with a d3-force layout, plus the same
 * data as two tables. The picture is split in ui/src/graph: layout.ts places the nodes,
 * useViewport.ts holds pan and zoom, GraphCanvas.tsx draws, NodePanel.tsx shows the selected node.
 */

/** Colours with at least 3:1 contrast on white, for node discs and the legend. */
const PALETTE = ['#1d4ed8', '#b45309', '#047857', '#b91c1c', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#9a3412', '#475569', '#6d28d9', '#0f766e'];

export function GraphPage({ params }: { params: Record<string, string> }) {
  const datasetId = params.id ?? '';
  const graph = useLoad(() => datasetGraph(datasetId), [datasetId]);
  const datasets = useLoad(listDatasets, []);
  const name = datasets.data?.find((d) => d.id === datasetId.toLowerCase())?.name;
  const title = name ? `Graph of ${name}` : 'Dataset graph';

  return (
    <Page title={title}>
      <p className="links graph-back">
        <Link to={`/datasets/${encodeURIComponent(datasetId)}`}>Back to the dataset{name ? ` ${name}` : ''}</Link>
      </p>
      {graph.error ? <Notice kind="error">{graph.error}</Notice> : null}
      {graph.loading && !graph.data ? (
        <p className="loading" role="status">
          Loading the graph…
        </p>
      ) : graph.data && graph.data.nodes.length === 0 ? (
        <Notice kind="info">
          This dataset has no graph yet: cognify it first. <Link to={`/datasets/${encodeURIComponent(datasetId)}`}>Go to the dataset</Link>
        </Notice>
      ) : graph.data ? (
        <GraphView data={graph.data} datasetName={name ?? 'this dataset'} />
      ) : null}
    </Page>
  );
}

/** The graph's derived data (types, neighbours, what is drawn and where) and the page around the picture. */
function GraphView({ data, datasetName }: { data: GraphData; datasetName: string }) {
  const byId = useMemo(() => new Map(data.nodes.map((n) => [n.id, n])), [data]);
  const edges = useMemo(() => data.edges.filter((e) => byId.has(e.source) && byId.has(e.target)), [data, byId]);

  const types = useMemo(() => {
    const counts = new Map<string, number>();
    for (const n of data.nodes) counts.set(n.type, (counts.get(n.type) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }, [data]);
  const colourOf = useMemo(() => {
    const m = new Map<string, string>();
    types.forEach(([t], i) => m.set(t, PALETTE[i % PALETTE.length]!));
    return (t: string) => m.get(t) ?? PALETTE[0]!;
  }, [types]);

  const neighbours = useMemo(() => {
    const m = new Map<string, Neighbour[]>();
    const push = (id: string, n: Neighbour) => {
      const list = m.get(id) ?? [];
      list.push(n);
      m.set(id, list);
    };
    for (const e of edges) {
      push(e.source, { node: byId.get(e.target)!, relationship: e.label, direction: 'out' });
      if (e.source !== e.target) push(e.target, { node: byId.get(e.source)!, relationship: e.label, direction: 'in' });
    }
    return m;
  }, [edges, byId]);
  const degree = (id: string) => neighbours.get(id)?.length ?? 0;

  /** The drawn nodes: all, or the most connected MAX_DRAWN. */
  const drawn = useMemo(() => {
    if (data.nodes.length <= MAX_DRAWN) return data.nodes;
    return [...data.nodes].sort((a, b) => (neighbours.get(b.id)?.length ?? 0) - (neighbours.get(a.id)?.length ?? 0)).slice(0, MAX_DRAWN);
  }, [data, neighbours]);

  const placed = useMemo(() => {
    const index = new Map(drawn.map((n, i) => [n.id, i]));
    const pairs: [number, number][] = [];
    for (const e of edges) {
      const a = index.get(e.source);
      const b = index.get(e.target);
      if (a !== undefined && b !== undefined && a !== b) pairs.push([a, b]);
    }
    const iterations = iterationsFor(drawn.length);
    const points = layout(
      drawn.map((n) => n.id),
      pairs,
      iterations,
    );
    const at = new Map(drawn.map((n, i) => [n.id, points[i]!]));
    return { at, points, iterations };
  }, [drawn, edges]);

  /** Without zooming in, only the most connected nodes that have a real name are labelled. */
  const labelledFirst = useMemo(() => {
    const named = drawn.filter((n) => n.label !== `${n.type}_${n.id}`);
    named.sort((a, b) => (neighbours.get(b.id)?.length ?? 0) - (neighbours.get(a.id)?.length ?? 0));
    return new Set(named.slice(0, 24).map((n) => n.id));
  }, [drawn, neighbours]);

  const drawnEdges = useMemo(() => edges.filter((e) => placed.at.has(e.source) && placed.at.has(e.target)), [edges, placed]);

  const initial = useMemo(() => fit(placed.points), [placed]);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const viewport = useViewport(initial, () => setSelected(undefined));
  const panelHeading = useRef<HTMLHeadingElement>(null);
  const instructionsId = useId();

  /** Selects a node from the panel or the tables: centre it and move focus to the panel. */
  const choose = (id: string) => {
    setSelected(id);
    const p = placed.at.get(id);
    if (p) viewport.centreOn(p);
    requestAnimationFrame(() => panelHeading.current?.focus());
  };

  const selectedNode = selected ? byId.get(selected) : undefined;
  const selectedNeighbours = selected ? (neighbours.get(selected) ?? []) : [];
  const near = useMemo(() => new Set(selectedNeighbours.map((n) => n.node.id)), [selectedNeighbours]);

  const description = `Knowledge graph of ${datasetName}: ${drawn.length} of ${data.nodes.length} nodes and ${drawnEdges.length} relationships shown.`;

  return (
    <>
      <p className="graph-counts" role="status">
        {data.nodes.length} node{data.nodes.length === 1 ? '' : 's'}, {edges.length} relationship{edges.length === 1 ? '' : 's'}.
        {drawn.length < data.nodes.length
          ? ` The picture shows the ${drawn.length} most connected nodes (layout of ${placed.iterations} iterations); the tables below list all ${data.nodes.length}.`
          : ''}
      </p>
      <div className="graph-layout">
        <div className="graph-stage">
          <div className="graph-toolbar" role="toolbar" aria-label="Graph view">
            <button type="button" className="button button-small" aria-label="Zoom in" onClick={() => viewport.zoomAt(1.25)}>
              +
            </button>
            <button type="button" className="button button-small" aria-label="Zoom out" onClick={() => viewport.zoomAt(0.8)}>
              −
            </button>
            <button type="button" className="button button-small button-quiet" aria-label="Reset view" onClick={viewport.reset}>
              Reset view
            </button>
            <span className="graph-zoom" aria-live="polite">
              Zoom {Math.round(viewport.view.k * 100)}%
            </span>
          </div>
          <GraphCanvas
            viewport={viewport}
            initialK={initial.k}
            drawn={drawn}
            drawnEdges={drawnEdges}
            at={placed.at}
            degree={degree}
            colourOf={colourOf}
            selected={selected}
            near={near}
            labelledFirst={labelledFirst}
            onSelect={setSelected}
            description={description}
            instructionsId={instructionsId}
          />
          <p className="hint" id={instructionsId}>
            Drag the background or use the arrow keys to move the picture; use the mouse wheel, + and − (or the buttons) to zoom, 0 to reset. Tab to a node and
            press Enter, or click it, to see its properties and neighbours.
          </p>
          <h2 className="graph-legend-title">Node types</h2>
          <ul className="graph-legend">
            {types.map(([t, count]) => (
              <li key={t}>
                <span className="graph-swatch" aria-hidden="true" style={{ backgroundColor: colourOf(t) }} />
                {t} ({count})
              </li>
            ))}
          </ul>
        </div>
        <NodePanel
          node={selectedNode}
          neighbours={selectedNeighbours}
          colourOf={colourOf}
          headingRef={panelHeading}
          onChoose={choose}
          onClose={() => setSelected(undefined)}
        />
      </div>

      <h2>The graph as tables</h2>
      <LazyDetails summary={`Nodes (${data.nodes.length})`}>
        {() => (
          <Table
            caption="Nodes"
            headers={['Name', 'Type', 'Relationships', 'ID']}
            rowHeaders
            rows={data.nodes.map((n) => [
              <button type="button" className="linkish" aria-label={`Show ${n.label} (${n.type}) in the graph`} onClick={() => choose(n.id)}>
                {n.label}
              </button>,
              n.type,
              neighbours.get(n.id)?.length ?? 0,
              <span className="mono">{n.id}</span>,
            ])}
            empty=""
          />
        )}
      </LazyDetails>
      <LazyDetails summary={`Relationships (${edges.length})`}>
        {() => (
          <Table
            caption="Relationships"
            headers={['Source', 'Relationship', 'Target']}
            rows={edges.map((e) => [byId.get(e.source)!.label, e.label, byId.get(e.target)!.label])}
            empty="No relationships."
          />
        )}
      </LazyDetails>
    </>
  );
}

/** A closed disclosure whose content is rendered only while it is open (large tables cost nothing until asked for). */
function LazyDetails({ summary, children }: { summary: string; children: () => ReactNode }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="graph-details" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{summary}</summary>
      {open ? children() : null}
    </details>
  );
}
