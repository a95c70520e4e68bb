import type { GraphEdge, GraphNode } from '../api/graph';
import { HEIGHT, WIDTH, type Point } from './layout';
import type { Viewport } from './useViewport';

/**
 * The SVG picture of the graph: edges with arrowheads, node discs with labels, under the viewport's
 * pan and zoom. Every attribute is set as an SVG attribute (no style strings), which keeps the page
 * within the server's Content-Security-Policy.
 */

export function shortLabel(label: string, max = 24): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

export function GraphCanvas({
  viewport,
  initialK,
  drawn,
  drawnEdges,
  at,
  degree,
  colourOf,
  selected,
  near,
  labelledFirst,
  onSelect,
  description,
  instructionsId,
}: {
  viewport: Viewport;
  /** The zoom of the fitted view: sizes and labels depend on how far one has zoomed from it. */
  initialK: number;
  drawn: GraphNode[];
  drawnEdges: GraphEdge[];
  /** Layout position of every drawn node. */
  at: Map<string, Point>;
  /** How many relationships a node has. */
  degree: (id: string) => number;
  colourOf: (type: string) => string;
  selected: string | undefined;
  /** The neighbours of the selected node. */
  near: Set<string>;
  /** Nodes labelled even without zooming in. */
  labelledFirst: Set<string>;
  onSelect: (id: string) => void;
  description: string;
  instructionsId: string;
}) {
  const { view, svgRef, dragging, pointer, onKeyDown } = viewport;
  // Sizes are kept constant on screen: graph units per viewBox unit is 1 / k.
  // Text keeps its size on screen whatever the zoom (graph units per viewBox unit: 1 / k); discs
  // grow a little as one zooms in, and start smaller when many nodes are drawn.
  const s = 1 / view.k;
  const zoomed = view.k / initialK;
  const sd = Math.min(3, Math.sqrt(Math.max(0.25, zoomed))) * s;
  const base = drawn.length > 200 ? 3 : drawn.length > 80 ? 4 : 5.5;
  const radius = (id: string) => Math.min(base * 2.6, base + Math.sqrt(degree(id)) * base * 0.3) * sd;
  const showAllLabels = drawn.length <= 60 || zoomed >= (drawn.length > 200 ? 3 : 1.8);

  return (
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
        onPointerDown={pointer.onPointerDown}
        onPointerMove={pointer.onPointerMove}
        onPointerUp={pointer.onPointerUp}
        onPointerCancel={pointer.onPointerUp}
      />
      <g transform={`translate(${view.x} ${view.y}) scale(${view.k})`}>
        <g aria-hidden="true">
          {drawnEdges.map((e, i) => {
            const a = at.get(e.source)!;
            const b = at.get(e.target)!;
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
          const p = at.get(n.id)!;
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
              onClick={() => onSelect(n.id)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' || event.key === ' ') {
                  event.preventDefault();
                  event.stopPropagation();
                  onSelect(n.id);
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
  );
}
