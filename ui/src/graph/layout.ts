/** Where the graph's nodes go: a small force-directed layout written here (no library), and the view that fits it. */

/** The picture's own coordinate space (the SVG viewBox). */
export const WIDTH = 800;
export const HEIGHT = 520;
/** At most this many nodes are drawn; the tables list them all. */
export const MAX_DRAWN = 400;
/** Work budget of the layout: iterations × drawn nodes² stays under this. */
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

/** How many iterations the layout of n nodes gets within the work budget. */
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
