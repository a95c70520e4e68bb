import { useId, type ReactNode } from 'react';
import { Table } from '../components';

/**
 * How the search page draws an answer, whatever its shape (answers, passages, graph facts, Cypher
 * rows, verbose parts, or plain JSON), and the short text of an answer for the history table. Every
 * result is rendered as React text, never as HTML.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isVerbose = (v: unknown): v is Record<string, unknown> => isObject(v) && ('text_result' in v || 'context_result' in v || 'objects_result' in v);

/** The multi-user answer: one entry per dataset. */
interface DatasetResult {
  dataset_id: string;
  dataset_name: string;
  search_result?: unknown;
  text_result?: unknown;
  context_result?: unknown;
  objects_result?: unknown;
}

export function isPerDataset(response: unknown): response is DatasetResult[] {
  return (
    Array.isArray(response) &&
    response.length > 0 &&
    response.every((r) => isObject(r) && typeof r.dataset_id === 'string' && 'dataset_name' in r && ('search_result' in r || isVerbose(r)))
  );
}

/** Text for any value: strings as they are, everything else as JSON. */
function plain(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

type Shape =
  | { kind: 'empty' }
  | { kind: 'answers'; texts: string[] }
  | { kind: 'chunks'; items: Record<string, unknown>[] }
  | { kind: 'triplets'; items: Record<string, unknown>[] }
  | { kind: 'rows'; items: Record<string, unknown>[] }
  | { kind: 'verbose'; items: Record<string, unknown>[] }
  | { kind: 'json'; value: unknown };

/** Decides how a result is drawn from its shape (FEELING_LUCKY may resolve to any type). */
export function shapeOf(value: unknown, type: string): Shape {
  if (value === null || value === undefined || value === '') return { kind: 'empty' };
  if (typeof value === 'string') return { kind: 'answers', texts: [value] };
  if (isVerbose(value)) return { kind: 'verbose', items: [value] };
  if (!Array.isArray(value)) return { kind: 'json', value };
  if (value.length === 0) return { kind: 'empty' };
  if (value.every((v) => typeof v === 'string')) return { kind: 'answers', texts: value as string[] };
  if (!value.every(isObject)) return { kind: 'json', value };
  const items = value as Record<string, unknown>[];
  if (items.every((i) => isVerbose(i))) return { kind: 'verbose', items };
  if (type === 'CYPHER' || type === 'NATURAL_LANGUAGE') return { kind: 'rows', items };
  if (items.every((i) => typeof i.text === 'string')) return { kind: 'chunks', items };
  if (items.every((i) => isObject(i.source) && isObject(i.target) && 'relationship' in i)) return { kind: 'triplets', items };
  return { kind: 'rows', items };
}

function nodeName(node: unknown): string {
  if (!isObject(node)) return plain(node);
  const name = typeof node.name === 'string' && node.name ? node.name : '';
  return name || `${plain(node.type)} ${plain(node.id)}`.trim();
}

function ChunkCard({ item }: { item: Record<string, unknown> }) {
  const document = typeof item.document_name === 'string' && item.document_name ? item.document_name : undefined;
  const documentId = typeof item.document_id === 'string' ? item.document_id : undefined;
  const score = typeof item.score === 'number' ? item.score : undefined;
  return (
    <li className="card result-chunk">
      <p className="result-text">{plain(item.text)}</p>
      <p className="result-meta">
        {document || documentId ? (
          <>
            From <span className="result-doc">{document ?? 'a document'}</span>
            {documentId ? <span className="mono"> ({documentId})</span> : null}
          </>
        ) : (
          'Source document not given'
        )}
        {typeof item.chunk_index === 'number' ? ` · passage ${item.chunk_index + 1}` : null}
        {score !== undefined ? ` · score ${score.toFixed(3)}` : null}
      </p>
    </li>
  );
}

function RowsTable({ items, caption }: { items: Record<string, unknown>[]; caption: string }) {
  const headers: string[] = [];
  for (const row of items) for (const key of Object.keys(row)) if (!headers.includes(key)) headers.push(key);
  return (
    <Table
      caption={caption}
      headers={headers}
      rows={items.map((row) => headers.map((h) => <span className="result-cell">{plain(row[h])}</span>))}
      empty="No rows."
    />
  );
}

function ResultBody({ value, type, label }: { value: unknown; type: string; label: string }): ReactNode {
  const shape = shapeOf(value, type);
  switch (shape.kind) {
    case 'empty':
      return <p className="empty">No results in {label}.</p>;
    case 'answers':
      return (
        <div className="result-answers">
          {shape.texts.map((text, i) => (
            <p className="result-answer result-text" key={i}>
              {text}
            </p>
          ))}
        </div>
      );
    case 'chunks':
      return (
        <ol className="result-list" aria-label={`Passages from ${label}`}>
          {shape.items.map((item, i) => (
            <ChunkCard item={item} key={typeof item.id === 'string' ? item.id : i} />
          ))}
        </ol>
      );
    case 'triplets':
      return (
        <ul className="result-triplets" aria-label={`Graph facts from ${label}`}>
          {shape.items.map((t, i) => (
            <li key={i}>
              <span className="triplet-node">{nodeName(t.source)}</span> <span className="triplet-rel">—{plain(t.relationship)}→</span>{' '}
              <span className="triplet-node">{nodeName(t.target)}</span>
            </li>
          ))}
        </ul>
      );
    case 'rows':
      return <RowsTable items={shape.items} caption={`Rows from ${label}`} />;
    case 'verbose':
      return (
        <>
          {shape.items.map((item, i) => (
            <div className="result-verbose" key={i}>
              <h4>Answer</h4>
              <ResultBody value={item.text_result} type={type} label={`the answer of ${label}`} />
              <h4>Context</h4>
              <ResultBody value={item.context_result} type={type} label={`the context of ${label}`} />
              <h4>Retrieved objects</h4>
              <ResultBody value={item.objects_result} type={type} label={`the objects of ${label}`} />
            </div>
          ))}
        </>
      );
    case 'json':
      return <pre className="result-json">{JSON.stringify(shape.value, null, 2)}</pre>;
  }
}

function ResultGroup({ title, value, type }: { title: string; value: unknown; type: string }) {
  const id = useId();
  return (
    <section className="result-group" aria-labelledby={id}>
      <h3 id={id}>Results from {title}</h3>
      <ResultBody value={value} type={type} label={title} />
    </section>
  );
}

export interface Outcome {
  response: unknown;
  type: string;
  /** The group title in single-user mode, where the answer does not name datasets. */
  plainTitle: string;
}

export function Results({ outcome }: { outcome: Outcome }) {
  const { response, type } = outcome;
  if (isPerDataset(response)) {
    return (
      <>
        {response.map((r) => (
          <ResultGroup
            key={r.dataset_id}
            title={r.dataset_name}
            value={isVerbose(r) ? { text_result: r.text_result, context_result: r.context_result, objects_result: r.objects_result } : r.search_result}
            type={type}
          />
        ))}
      </>
    );
  }
  if (Array.isArray(response) && response.length === 0) return <p className="empty">No results.</p>;
  return <ResultGroup title={outcome.plainTitle} value={response} type={type} />;
}

/** A short text of a stored answer for the history table. */
export function summarise(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return clip(text);
  }
  const one = (v: unknown): string => {
    const shape = shapeOf(v, '');
    switch (shape.kind) {
      case 'empty':
        return 'no results';
      case 'answers':
        return shape.texts.join(' ');
      case 'chunks':
        return `${shape.items.length} passage${shape.items.length === 1 ? '' : 's'}: ${plain(shape.items[0]!.text)}`;
      case 'triplets':
        return `${shape.items.length} graph fact${shape.items.length === 1 ? '' : 's'}`;
      case 'rows':
        return `${shape.items.length} row${shape.items.length === 1 ? '' : 's'}`;
      case 'verbose':
        return shape.items.map((i) => one(i.text_result ?? i.context_result)).join('; ');
      case 'json':
        return plain(shape.value);
    }
  };
  if (isPerDataset(value))
    return clip(value.map((r) => `${r.dataset_name}: ${one(isVerbose(r) ? (r.text_result ?? r.context_result) : r.search_result)}`).join('; '));
  if (Array.isArray(value) && value.length === 0) return 'No results';
  return clip(one(value));
}

export function clip(text: string, max = 240): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
