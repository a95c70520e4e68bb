import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { HEIGHT, WIDTH, type Point, type View } from './layout';

/**
 * The pan and zoom of the graph picture: dragging the background, the mouse wheel, the keyboard
 * (arrows, + and −, 0 to reset) and centring on a node. `initial` is the fitted view that Reset
 * brings back; `onEscape` is what Escape on the picture does (the page clears its selection).
 */

const clampK = (k: number) => Math.max(0.02, Math.min(20, k));

export function useViewport(initial: View, onEscape: () => void) {
  const [view, setView] = useState<View>(initial);
  useEffect(() => setView(initial), [initial]);

  const svgRef = useRef<SVGSVGElement>(null);
  const drag = useRef<{ id: number; x: number; y: number; view: View } | undefined>(undefined);
  const [dragging, setDragging] = useState(false);

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

  /** Puts a graph point in the middle of the picture, keeping the zoom. */
  const centreOn = useCallback((p: Point) => {
    setView((v) => ({ k: v.k, x: WIDTH / 2 - p.x * v.k, y: HEIGHT / 2 - p.y * v.k }));
  }, []);

  const reset = () => setView(initial);

  // Pointer handlers of the background rect: a drag pans the picture.
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
        onEscape();
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  return { view, svgRef, dragging, zoomAt, centreOn, reset, pointer: { onPointerDown, onPointerMove, onPointerUp }, onKeyDown };
}

export type Viewport = ReturnType<typeof useViewport>;
