import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent as ReactPointerEvent, type ReactNode } from 'react';
import { listDatasets } from '../api/datasets';
import { datasetGraph, type GraphData, type GraphNode } from '../api/graph';
import { Notice, Page, Table, useLoad } from '../components';
import { Link } from '../router';

/**
 * The knowledge graph of a dataset (api/graph) drawn as SVG with a small
 * force-directed layout written here (no library), plus the same data as two tables.
 */


/** The picture's own coordinate space (the SVG viewBox). */
const WIDTH = 800;
const HEIGHT = 520;
/** At most this many nodes are drawn; the tables list them all. */
export const MAX_DRAWN = 400;
/** Work budget of the layout: iterations × drawn nodes² stays under this. */
const LAYOUT_BUDGET = 40_000_000;
const MAX_ITERATIONS = 300;
const MIN_ITERATIONS = 40;

/** Colours with at least 3:1 contrast on white, for node discs and the legend. */
const PALETTE = ['#1d4ed8', '#b45309', '#047857', '#b91c1c', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#9a3412', '#475569', '#6d28d9', '#0f766e'];

export interface Point {
  x: number;
  y: number;
}

/**
 * Fruchterman–Reingold layout: repulsion between every pair, attraction along edges, a little
 * gravity to the centre, and a cooling step size. Deterministic (golden-angle start positions).
 */
export function layout(ids: string[], edges: [number, number][], iterations: number): Point[] {
  const n = ids.length;
  const pos: Point[] = [];
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < n; i++) {
    const r = 12 * Math.sqrt(i + 0.5);
    pos.push({ x: WIDTH / 2 + r * Math.cos(i * golden), y: HEIGHT / 2 + r * Math.sin(i * golden) });
  }
  if (n <= 1) return pos;
  const k = Math.max(28, 0.9 * Math.sqrt((WIDTH * HEIGHT) / n));
  const k2 = k * k;
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  let temperature = WIDTH / 8;
  const cooling = temperature / (iterations + 1);
  for (let it = 0; it < iterations; it++) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < n; i++) {
      const pi = pos[i]!;
      for (let j = i + 1; j < n; j++) {
        const pj = pos[j]!;
        let ddx = pi.x - pj.x;
        let ddy = pi.y - pj.y;
        let d2 = ddx * ddx + ddy * ddy;
        if (d2 < 0.01) {
          ddx = ((i * 7919 + j) % 13) - 6 || 1;
          ddy = ((j * 104729 + i) % 11) - 5 || 1;
          d2 = ddx * ddx + ddy * ddy;
        }
        const f = k2 / d2;
        dx[i]! += ddx * f;
        dy[i]! += ddy * f;
        dx[j]! -= ddx * f;
        dy[j]! -= ddy * f;
      }
    }
    for (const [a, b] of edges) {
      const pa = pos[a]!;
      const pb = pos[b]!;
      const ddx = pa.x - pb.x;
      const ddy = pa.y - pb.y;
      const d = Math.sqrt(ddx * ddx + ddy * ddy) || 0.01;
      const f = d / k;
      dx[a]! -= ddx * f;
      dy[a]! -= ddy * f;
      dx[b]! += ddx * f;
      dy[b]! += ddy * f;
    }
    for (let i = 0; i < n; i++) {
      const p = pos[i]!;
      dx[i]! += (WIDTH / 2 - p.x) * 0.02 * (k / 50);
      dy[i]! += (HEIGHT / 2 - p.y) * 0.02 * (k / 50);
      const len = Math.sqrt(dx[i]! * dx[i]! + dy[i]! * dy[i]!) || 1;
      const step = Math.min(len, temperature);
      p.x += (dx[i]! / len) * step;
      p.y += (dy[i]! / len) * step;
    }
    temperature = Math.max(1, temperature - cooling);
  }
  return pos;
}

export function iterationsFor(n: number): number {
  if (n <= 1) return 0;
  return Math.max(MIN_ITERATIONS, Math.min(MAX_ITERATIONS, Math.floor(LAYOUT_BUDGET / (n * n))));
}

interface View {
  x: number;
  y: number;
  k: number;
}

function fit(points: Point[]): View {
  if (points.length === 0) return { x: 0, y: 0, k: 1 };
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  // Room for the labels, which keep their size on screen whatever the zoom.
  const padX = 90;
  const padY = 36;
  const k = Math.max(0.02, Math.min(2, (WIDTH - 2 * padX) / Math.max(1, maxX - minX), (HEIGHT - 2 * padY) / Math.max(1, maxY - minY)));
  return { k, x: WIDTH / 2 - ((minX + maxX) / 2) * k, y: HEIGHT / 2 - ((minY + maxY) / 2) * k };
}

const clampK = (k: number) => Math.max(0.02, Math.min(20, k));

function shortLabel(label: string, max = 24): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value, null, 1);
  } catch {
    return String(value);
  }
}

interface Neighbour {
  node: GraphNode;
  relationship: string;
  direction: 'out' | 'in';
}

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
  const [view, setView] = useState<View>(initial);
  useEffect(() => setView(initial), [initial]);

  const [selected, setSelected] = useState<string | undefined>(undefined);
  const svgRef = useRef<SVGSVGElement>(null);
  const panelHeading = useRef<HTMLHeadingElement>(null);
  const drag = useRef<{ id: number; x: number; y: number; view: View } | undefined>(undefined);
  const [dragging, setDragging] = useState(false);
  const instructionsId = useId();

  /** A client point in viewBox coordinates. */
  const toSvg = useCallback((clientX: number, clientY: number): Point => {
    const svg = svgRef.current;
    const ctm = svg?.getScreenCTM();
    if (!svg || !ctm) return { x: WIDTH / 2, y: HEIGHT / 2 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return { x: p.x, y: p.y };
  }, []);

  const zoomAt = useCallback((factor: number, at: Point = { x: WIDTH / 2, y: HEIGHT / 2 }) => {
    setView((v) => {
      const k = clampK(v.k * factor);
      const r = k / v.k;
      return { k, x: at.x - (at.x - v.x) * r, y: at.y - (at.y - v.y) * r };
    });
  }, []);

  // A wheel listener that may prevent the page from scrolling (React's onWheel is passive).
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
      zoomAt(factor, toSvg(event.clientX, event.clientY));
    };
    svg.addEventListener('wheel', onWheel, { passive: false });
    return () => svg.removeEventListener('wheel', onWheel);
  }, [zoomAt, toSvg]);

  const centreOn = useCallback(
    (id: string) => {
      const p = placed.at.get(id);
      if (!p) return;
      setView((v) => ({ k: v.k, x: WIDTH / 2 - p.x * v.k, y: HEIGHT / 2 - p.y * v.k }));
    },
    [placed],
  );

  /** Selects a node from the panel or the tables: centre it and move focus to the panel. */
  const choose = (id: string) => {
    setSelected(id);
    centreOn(id);
    requestAnimationFrame(() => panelHeading.current?.focus());
  };

  const onPointerDown = (event: ReactPointerEvent<SVGRectElement>) => {
    if (event.button !== 0) return;
    const start = toSvg(event.clientX, event.clientY);
    drag.current = { id: event.pointerId, x: start.x, y: start.y, view };
    event.currentTarget.setPointerCapture(event.pointerId);
    setDragging(true);
  };
  const onPointerMove = (event: ReactPointerEvent<SVGRectElement>) => {
    const d = drag.current;
    if (!d || d.id !== event.pointerId) return;
    const p = toSvg(event.clientX, event.clientY);
    // The viewBox point under the pointer moves with the view, so measure against the start view.
    setView({ k: d.view.k, x: d.view.x + (p.x - d.x), y: d.view.y + (p.y - d.y) });
  };
  const onPointerUp = (event: ReactPointerEvent<SVGRectElement>) => {
    if (drag.current?.id === event.pointerId) drag.current = undefined;
    setDragging(false);
  };

  const onKeyDown = (event: KeyboardEvent<SVGSVGElement>) => {
    const step = 60;
    switch (event.key) {
      case 'ArrowLeft':
        setView((v) => ({ ...v, x: v.x + step }));
        break;
      case 'ArrowRight':
        setView((v) => ({ ...v, x: v.x - step }));
        break;
      case 'ArrowUp':
        setView((v) => ({ ...v, y: v.y + step }));
        break;
      case 'ArrowDown':
        setView((v) => ({ ...v, y: v.y - step }));
        break;
      case '+':
      case '=':
        zoomAt(1.25);
        break;
      case '-':
      case '_':
        zoomAt(0.8);
        break;
      case '0':
        setView(initial);
        break;
      case 'Escape':
        setSelected(undefined);
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  const selectedNode = selected ? byId.get(selected) : undefined;
  const selectedNeighbours = selected ? (neighbours.get(selected) ?? []) : [];
  const near = useMemo(() => new Set(selectedNeighbours.map((n) => n.node.id)), [selectedNeighbours]);
  // Sizes are kept constant on screen: graph units per viewBox unit is 1 / k.
  // Text keeps its size on screen whatever the zoom (graph units per viewBox unit: 1 / k); discs
  // grow a little as one zooms in, and start smaller when many nodes are drawn.
  const s = 1 / view.k;
  const zoomed = view.k / initial.k;
  const sd = Math.min(3, Math.sqrt(Math.max(0.25, zoomed))) * s;
  const base = drawn.length > 200 ? 3 : drawn.length > 80 ? 4 : 5.5;
  const radius = (id: string) => Math.min(base * 2.6, base + Math.sqrt(neighbours.get(id)?.length ?? 0) * base * 0.3) * sd;
  const showAllLabels = drawn.length <= 60 || zoomed >= (drawn.length > 200 ? 3 : 1.8);


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
            <button type="button" className="button button-small" aria-label="Zoom in" onClick={() => zoomAt(1.25)}>
              +
            </button>
            <button type="button" className="button button-small" aria-label="Zoom out" onClick={() => zoomAt(0.8)}>
              −
            </button>
            <button type="button" className="button button-small button-quiet" aria-label="Reset view" onClick={() => setView(initial)}>
              Reset view
            </button>
            <span className="graph-zoom" aria-live="polite">
              Zoom {Math.round(view.k * 100)}%
            </span>
          </div>
          <svg
            ref={svgRef}
            className={`graph-svg${dragging ? ' graph-dragging' : ''}`}
            viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
            preserveAspectRatio="xMidYMid meet"
            role="application"
            aria-label={description}
            aria-describedby={instructionsId}
            tabIndex={0}
            onKeyDown={onKeyDown}
          >
            <defs>
              <marker id="graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280" />
              </marker>
            </defs>
            <rect
              className="graph-background"
              x={0}
              y={0}
              width={WIDTH}
              height={HEIGHT}
              fill="#ffffff"
              onPointerDown={onPointerDown}
              onPointerMove={onPointerMove}
              onPointerUp={onPointerUp}
              onPointerCancel={onPointerUp}
            />
            <g transform={`translate(${view.x} ${view.y}) scale(${view.k})`}>
              <g aria-hidden="true">
                {drawnEdges.map((e, i) => {
                  const a = placed.at.get(e.source)!;
                  const b = placed.at.get(e.target)!;
                  const touches = selected !== undefined && (e.source === selected || e.target === selected);
                  const dim = selected !== undefined && !touches;
                  const ddx = b.x - a.x;
                  const ddy = b.y - a.y;
                  const len = Math.sqrt(ddx * ddx + ddy * ddy) || 1;
                  const rb = radius(e.target) + 2 * sd;
                  const ra = radius(e.source);
                  if (e.source === e.target) return null;
                  return (
                    <g key={i}>
                      <line
                        x1={a.x + (ddx / len) * ra}
                        y1={a.y + (ddy / len) * ra}
                        x2={b.x - (ddx / len) * rb}
                        y2={b.y - (ddy / len) * rb}
                        stroke={touches ? '#111827' : '#9ca3af'}
                        strokeOpacity={dim ? 0.25 : 1}
                        strokeWidth={(touches ? 2.2 : 1) * Math.min(sd, 1.5 * s)}
                        markerEnd="url(#graph-arrow)"
                      />
                      {touches || zoomed >= 3 ? (
                        <text
                          x={(a.x + b.x) / 2}
                          y={(a.y + b.y) / 2}
                          className="graph-edge-label"
                          fontSize={11 * s}
                          textAnchor="middle"
                          fill="#374151"
                          stroke="#ffffff"
                          strokeWidth={3 * s}
                          paintOrder="stroke"
                        >
                          {shortLabel(e.label, 28)}
                        </text>
                      ) : null}
                    </g>
                  );
                })}
              </g>
              {drawn.map((n) => {
                const p = placed.at.get(n.id)!;
                const r = radius(n.id);
                const isSelected = n.id === selected;
                const dim = selected !== undefined && !isSelected && !near.has(n.id);
                const labelled = showAllLabels || isSelected || near.has(n.id) || labelledFirst.has(n.id);
                return (
                  <g
                    key={n.id}
                    className={`graph-node${isSelected ? ' graph-node-selected' : ''}`}
                    transform={`translate(${p.x} ${p.y})`}
                    role="button"
                    tabIndex={0}
                    aria-label={`${n.label} (${n.type})`}
                    aria-pressed={isSelected}
                    opacity={dim ? 0.45 : 1}
                    onClick={() => setSelected(n.id)}
                    onKeyDown={(event) => {
                      if (event.key === 'Enter' || event.key === ' ') {
                        event.preventDefault();
                        event.stopPropagation();
                        setSelected(n.id);
                      }
                    }}
                  >
                    <circle className="graph-node-ring" r={r + 4 * s} fill="none" strokeWidth={3 * s} />
                    <circle r={r} fill={colourOf(n.type)} stroke={isSelected ? '#111827' : '#ffffff'} strokeWidth={(isSelected ? 3 : 1) * s} />
                    {labelled ? (
                      <text
                        y={r + 12 * s}
                        className="graph-node-label"
                        fontSize={13 * s}
                        textAnchor="middle"
                        fill="#111827"
                        stroke="#ffffff"
                        strokeWidth={3 * s}
                        paintOrder="stroke"
                        aria-hidden="true"
                      >
                        {shortLabel(n.label)}
                      </text>
                    ) : null}
                    <title>{`${n.label} (${n.type})`}</title>
                  </g>
                );
              })}
            </g>
          </svg>
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
        <section className="graph-panel card" aria-label="Node details">
          {selectedNode ? (
            <>
              <h2 ref={panelHeading} tabIndex={-1} className="graph-panel-title">
                {selectedNode.label}
              </h2>
              <p>
                <span className="badge graph-type-badge">
                  <span className="graph-swatch" aria-hidden="true" style={{ backgroundColor: colourOf(selectedNode.type) }} />
                  {selectedNode.type}
                </span>
              </p>
              <p className="mono graph-node-id">{selectedNode.id}</p>
              <h3>Properties</h3>
              {Object.keys(selectedNode.properties).length === 0 ? (
                <p className="empty">No properties.</p>
              ) : (
                <dl className="graph-props">
                  {Object.entries(selectedNode.properties).map(([k, v]) => (
                    <div key={k}>
                      <dt>{k}</dt>
                      <dd>{valueText(v)}</dd>
                    </div>
                  ))}
                </dl>
              )}
              <h3>Neighbours</h3>
              {selectedNeighbours.length === 0 ? (
                <p className="empty">No relationships.</p>
              ) : (
                <ul className="graph-neighbours" aria-label={`Neighbours of ${selectedNode.label}`}>
                  {selectedNeighbours.map((nb, i) => (
                    <li key={`${nb.node.id}-${nb.relationship}-${nb.direction}-${i}`}>
                      <span className="graph-rel">{nb.direction === 'out' ? `${nb.relationship} →` : `← ${nb.relationship}`}</span>{' '}
                      <button type="button" className="linkish" aria-label={`Go to ${nb.node.label} (${nb.node.type}) via ${nb.direction === 'out' ? '' : 'incoming '}${nb.relationship}`} onClick={() => choose(nb.node.id)}>
                        {nb.node.label}
                      </button>{' '}
                      <span className="graph-nb-type">({nb.node.type})</span>
                    </li>
                  ))}
                </ul>
              )}
              <button type="button" className="button button-small graph-close" aria-label="Close node details" onClick={() => setSelected(undefined)}>
                Close
              </button>
            </>
          ) : (
            <>
              <h2 className="graph-panel-title">Node details</h2>
              <p className="empty">Select a node to see its properties and neighbours.</p>
            </>
          )}
        </section>
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
