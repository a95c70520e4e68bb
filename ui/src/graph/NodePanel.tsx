import type { RefObject } from 'react';
import type { GraphNode } from '../api/graph';

/** The side panel of the graph page: the selected node's type, properties and neighbours. */

export interface Neighbour {
  node: GraphNode;
  relationship: string;
  direction: 'out' | 'in';
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

export function NodePanel({
  node,
  neighbours,
  colourOf,
  headingRef,
  onChoose,
  onClose,
}: {
  /** The selected node, or undefined for the empty panel. */
  node: GraphNode | undefined;
  neighbours: Neighbour[];
  colourOf: (type: string) => string;
  /** The heading the page moves focus to when a node is chosen from the panel or the tables. */
  headingRef: RefObject<HTMLHeadingElement | null>;
  onChoose: (id: string) => void;
  onClose: () => void;
}) {
  return (
    <section className="graph-panel card" aria-label="Node details">
      {node ? (
        <>
          <h2 ref={headingRef} tabIndex={-1} className="graph-panel-title">
            {node.label}
          </h2>
          <p>
            <span className="badge graph-type-badge">
              {/* A CSSOM property set by React, not a style attribute string: allowed by the CSP. */}
              <span className="graph-swatch" aria-hidden="true" style={{ backgroundColor: colourOf(node.type) }} />
              {node.type}
            </span>
          </p>
          <p className="mono graph-node-id">{node.id}</p>
          <h3>Properties</h3>
          {Object.keys(node.properties).length === 0 ? (
            <p className="empty">No properties.</p>
          ) : (
            <dl className="graph-props">
              {Object.entries(node.properties).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{valueText(v)}</dd>
                </div>
              ))}
            </dl>
          )}
          <h3>Neighbours</h3>
          {neighbours.length === 0 ? (
            <p className="empty">No relationships.</p>
          ) : (
            <ul className="graph-neighbours" aria-label={`Neighbours of ${node.label}`}>
              {neighbours.map((nb, i) => (
                <li key={`${nb.node.id}-${nb.relationship}-${nb.direction}-${i}`}>
                  <span className="graph-rel">{nb.direction === 'out' ? `${nb.relationship} →` : `← ${nb.relationship}`}</span>{' '}
                  <button
                    type="button"
                    className="linkish"
                    aria-label={`Go to ${nb.node.label} (${nb.node.type}) via ${nb.direction === 'out' ? '' : 'incoming '}${nb.relationship}`}
                    onClick={() => onChoose(nb.node.id)}
                  >
                    {nb.node.label}
                  </button>{' '}
                  <span className="graph-nb-type">({nb.node.type})</span>
                </li>
              ))}
            </ul>
          )}
          <button type="button" className="button button-small graph-close" aria-label="Close node details" onClick={onClose}>
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
  );
}
