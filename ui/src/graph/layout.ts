import { forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY, type SimulationLinkDatum, type SimulationNodeDatum } from 'd3-force';

/**
 * Where the graph's nodes go: a d3-force layout, computed once per graph and synchronously (the
 * simulation is stopped and ticked a fixed number of times, never animated), so the same graph gets
 * the same picture every time and tests can rely on it.
 */

/** The picture's own coordinate space (the SVG viewBox). */
export const WIDTH = 800;
export const HEIGHT = 520;
/** At most this many nodes are drawn; the tables list them all. */
export const MAX_DRAWN = 400;
/**
 * Work budget of the layout: ticks × drawn nodes² stays under this. d3's many-body force costs less
 * than n² per tick, but the cap keeps the largest pictures quick to lay out.
 */
const LAYOUT_BUDGET = 40_000_000;
const MAX_ITERATIONS = 300;
const MIN_ITERATIONS = 40;

export interface Point {
  x: number;
  y: number;
}

/** The pan and zoom of the picture: graph point p is drawn at (p.x * k + x, p.y * k + y). */
export interface View {
  x: number;
  y: number;
  k: number;
}

/**
 * Repulsion between every pair (many-body), springs along edges, a pull to the centre and a little
 * room around each node. Deterministic: golden-angle start positions, and d3-force's own seeded
 * random source for the rare coincident nodes. `edges` are index pairs into `ids`.
 */
export function layout(ids: string[], edges: [number, number][], iterations: number): Point[] {
  const n = ids.length;
  const golden = Math.PI * (3 - Math.sqrt(5));
  const nodes: SimulationNodeDatum[] = [];
  for (let i = 0; i < n; i++) {
    const r = 12 * Math.sqrt(i + 0.5);
    nodes.push({ index: i, x: WIDTH / 2 + r * Math.cos(i * golden), y: HEIGHT / 2 + r * Math.sin(i * golden) });
  }
  if (n <= 1 || iterations <= 0) return nodes.map((p) => ({ x: p.x!, y: p.y! }));
  // k is the ideal edge length, larger when fewer nodes share the picture. The link distance scales
  // with k and the many-body strength with k², so the shape is the same at any k; the picture is
  // scaled to fit afterwards.
  const k = Math.max(28, 0.9 * Math.sqrt((WIDTH * HEIGHT) / n));
  const links: SimulationLinkDatum<SimulationNodeDatum>[] = edges.map(([a, b]) => ({ source: a, target: b }));
  const simulation = forceSimulation(nodes)
    .force('charge', forceManyBody().strength(-(k * k) / 30))
    .force('link', forceLink(links).distance(k * 0.8))
    .force('x', forceX(WIDTH / 2).strength(0.05))
    .force('y', forceY(HEIGHT / 2).strength(0.05))
    .force('collide', forceCollide(k * 0.2))
    // Cool down (alpha from 1 to d3's alphaMin, 0.001) over exactly `iterations` ticks.
    .alphaDecay(1 - Math.pow(0.001, 1 / iterations))
    .stop();
  simulation.tick(iterations);
  return nodes.map((p) => ({ x: p.x!, y: p.y! }));
}

/** How many ticks the layout of n nodes gets within the work budget. */
export function iterationsFor(n: number): number {
  if (n <= 1) return 0;
  return Math.max(MIN_ITERATIONS, Math.min(MAX_ITERATIONS, Math.floor(LAYOUT_BUDGET / (n * n))));
}

/** The view that shows every point, with room for the labels. */
export function fit(points: Point[]): View {
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
