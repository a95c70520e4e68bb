import { useId, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { listDatasets } from '../api/datasets';
import { search, searchHistory, type HistoryRow, type SearchRequest } from '../api/search';
import { Button, Field, Notice, Page, Table, useAction, useLoad } from '../components';
import { Link, useLocation } from '../router';

/**
 * Search the datasets you can read and see your past searches (api/search). Every result is
 * rendered as React text, never as HTML.
 */

/** The types the server serves (src/memory/search.ts SUPPORTED_SEARCH_TYPES), with what each does. */
export const SEARCH_TYPES: { type: string; hint: string }[] = [
  { type: 'HYBRID_COMPLETION', hint: 'An answer written from both the closest passages and the knowledge-graph facts (the default).' },
  { type: 'GRAPH_COMPLETION', hint: 'An answer written from the knowledge-graph facts around the query.' },
  { type: 'GRAPH_SUMMARY_COMPLETION', hint: 'An answer written from a summary of the knowledge-graph facts.' },
  { type: 'RAG_COMPLETION', hint: 'An answer written from the passages closest in meaning to the query.' },
  { type: 'CHUNKS', hint: 'The passages closest in meaning to the query.' },
  { type: 'CHUNKS_LEXICAL', hint: 'The passages that best match the words of the query (BM25, no embeddings).' },
  { type: 'SUMMARIES', hint: 'Summaries of the passages closest in meaning to the query.' },
  { type: 'CYPHER', hint: 'Runs the query as read-only Cypher on the graph, when the server allows Cypher.' },
  { type: 'NATURAL_LANGUAGE', hint: 'The language model turns the question into Cypher (needs Cypher to be allowed and a model).' },
  { type: 'FEELING_LUCKY', hint: 'The server picks the search type for the query.' },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isVerbose = (v: unknown): v is Record<string, unknown> => isObject(v) && ('text_result' in v || 'context_result' in v || 'objects_result' in v);

/** The multi-user answer: one entry per dataset. */
interface DatasetResult {
  dataset_id: string;
  dataset_name: string;
  search_result?: unknown;
  text_result?: unknown;
  context_result?: unknown;
  objects_result?: unknown;
}

function isPerDataset(response: unknown): response is DatasetResult[] {
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
  return <Table caption={caption} headers={headers} rows={items.map((row) => headers.map((h) => <span className="result-cell">{plain(row[h])}</span>))} empty="No rows." />;
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

interface Outcome {
  response: unknown;
  type: string;
  /** The group title in single-user mode, where the answer does not name datasets. */
  plainTitle: string;
}

function Results({ outcome }: { outcome: Outcome }) {
  const { response, type } = outcome;
  if (isPerDataset(response)) {
    return (
      <>
        {response.map((r) => (
          <ResultGroup key={r.dataset_id} title={r.dataset_name} value={isVerbose(r) ? { text_result: r.text_result, context_result: r.context_result, objects_result: r.objects_result } : r.search_result} type={type} />
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
  if (isPerDataset(value)) return clip(value.map((r) => `${r.dataset_name}: ${one(isVerbose(r) ? r.text_result ?? r.context_result : r.search_result)}`).join('; '));
  if (Array.isArray(value) && value.length === 0) return 'No results';
  return clip(one(value));
}

function clip(text: string, max = 240): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

interface HistoryEntry {
  id: string;
  query: string;
  createdAt: string;
  datasetId: string | null;
  answer?: string;
}

/** Pairs each query with the answer recorded after it; newest first. */
export function historyEntries(rows: HistoryRow[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const row of rows) {
    if (row.user === 'user') entries.push({ id: row.id, query: row.text, createdAt: row.createdAt, datasetId: row.datasetId });
    else {
      const last = entries[entries.length - 1];
      if (last && last.answer === undefined) last.answer = row.text;
    }
  }
  return entries.reverse();
}

/** History rows shown before "Show all". */
const HISTORY_SHOWN = 50;

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function SearchPage() {
  const { query: params } = useLocation();
  const datasets = useLoad(listDatasets, []);
  const history = useLoad(searchHistory, []);
  const [query, setQuery] = useState('');
  const [type, setType] = useState('HYBRID_COMPLETION');
  const [chosen, setChosen] = useState<Set<string>>(() => new Set(params.getAll('dataset').map((d) => d.toLowerCase())));
  const [topK, setTopK] = useState('15');
  const [onlyContext, setOnlyContext] = useState(false);
  const [verbose, setVerbose] = useState(false);
  const [nodeSets, setNodeSets] = useState('');
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [summary, setSummary] = useState('');
  const [allHistory, setAllHistory] = useState(false);
  const action = useAction();
  const typeId = useId();
  const hintId = useId();
  const queryId = useId();

  const list = datasets.data ?? [];
  const names = new Map(list.map((d) => [d.id, d.name]));
  const duplicate = (name: string) => list.filter((d) => d.name === name).length > 1;

  const toggle = (id: string, on: boolean) =>
    setChosen((prev) => {
      const next = new Set(prev);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    const k = Number(topK);
    const ids = [...chosen].filter((id) => names.has(id) || !datasets.data);
    const sets = nodeSets
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const body: SearchRequest = {
      query,
      search_type: type,
      top_k: Number.isFinite(k) ? Math.trunc(k) : 15,
      only_context: onlyContext,
      verbose,
      ...(ids.length > 0 ? { dataset_ids: ids } : {}),
      ...(sets.length > 0 ? { node_name: sets } : {}),
    };
    setSummary('');
    if (query.trim() === '') {
      await action.run(async () => {
        throw new Error('Type a query first.');
      });
      return;
    }
    const started = performance.now();
    const ok = await action.run(async () => {
      const response = await search(body);
      const plainTitle = ids.length === 1 ? (names.get(ids[0]!) ?? 'the chosen dataset') : ids.length > 1 ? 'the chosen datasets' : 'all your datasets';
      setOutcome({ response, type, plainTitle });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const where = isPerDataset(response)
        ? `${response.length} dataset${response.length === 1 ? '' : 's'}`
        : plainTitle;
      setSummary(`Searched ${where} with ${type} in ${seconds} s.`);
    });
    if (!ok) setOutcome(undefined);
    void history.reload();
  };

  const onQueryKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void submit();
  };

  const hint = SEARCH_TYPES.find((t) => t.type === type)?.hint ?? '';
  const entries = historyEntries(history.data ?? []);
  const shown = allHistory ? entries : entries.slice(0, HISTORY_SHOWN);

  return (
    <Page title="Search">
      <form className="card search-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={queryId}>Query</label>
          <textarea
            id={queryId}
            className="search-query"
            name="query"
            rows={3}
            required
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={onQueryKey}
            aria-describedby={`${queryId}-hint`}
          />
          <p className="hint" id={`${queryId}-hint`}>
            Ctrl+Enter searches. For CYPHER, write a read-only Cypher query.
          </p>
        </div>
        <div className="row search-row">
          <div className="field">
            <label htmlFor={typeId}>Search type</label>
            <select id={typeId} name="search_type" value={type} onChange={(e) => setType(e.target.value)} aria-describedby={hintId}>
              {SEARCH_TYPES.map((t) => (
                <option key={t.type} value={t.type}>
                  {t.type}
                </option>
              ))}
            </select>
            <p className="hint" id={hintId}>
              {hint}
            </p>
          </div>
          <Field label="Top K" type="number" name="top_k" min={1} max={1000} step={1} value={topK} onChange={(e) => setTopK(e.target.value)} hint="How many results per dataset (1–1000)." />
          <Field
            label="Node sets"
            name="node_name"
            value={nodeSets}
            onChange={(e) => setNodeSets(e.target.value)}
            hint="Optional: only these node sets, separated by commas."
          />
        </div>
        <fieldset className="search-datasets">
          <legend>Datasets</legend>
          <p className="hint">Choose none to search every dataset you can read.</p>
          {datasets.error ? <Notice kind="error">{datasets.error}</Notice> : null}
          {datasets.loading && !datasets.data ? (
            <p className="loading">Loading datasets…</p>
          ) : list.length === 0 && !datasets.error ? (
            <p className="empty">
              You have no datasets yet. <Link to="/datasets">Add documents to a dataset</Link> first.
            </p>
          ) : (
            <ul className="search-dataset-list">
              {list.map((d) => (
                <li key={d.id}>
                  <label className="check">
                    <input type="checkbox" checked={chosen.has(d.id)} onChange={(e) => toggle(d.id, e.target.checked)} />
                    {duplicate(d.name) ? `${d.name} (${d.id.slice(0, 8)})` : d.name}
                  </label>
                </li>
              ))}
            </ul>
          )}
        </fieldset>
        <div className="search-options">
          <label className="check">
            <input type="checkbox" name="only_context" checked={onlyContext} onChange={(e) => setOnlyContext(e.target.checked)} />
            Only context
          </label>
          <span className="hint">Return the retrieved context without writing an answer.</span>
        </div>
        <div className="search-options">
          <label className="check">
            <input type="checkbox" name="verbose" checked={verbose} onChange={(e) => setVerbose(e.target.checked)} />
            Verbose
          </label>
          <span className="hint">Show the answer, the context and the retrieved objects separately.</span>
        </div>
        <Notice kind="error">{action.error}</Notice>
        <Button type="submit" busy={action.busy}>
          {action.busy ? 'Searching…' : 'Search'}
        </Button>
      </form>

      <section aria-labelledby="search-results-title" className="search-results">
        <h2 id="search-results-title">Results</h2>
        <Notice kind="info">{summary}</Notice>
        {outcome ? <Results outcome={outcome} /> : <p className="empty">Run a search to see results here.</p>}
      </section>

      <section aria-labelledby="search-history-title">
        <h2 id="search-history-title">Search history</h2>
        {history.error ? <Notice kind="error">{history.error}</Notice> : null}
        {history.loading && !history.data ? (
          <p className="loading">Loading history…</p>
        ) : (
          <>
          {entries.length > 0 ? <p className="hint">Newest first.</p> : null}
          <Table
            caption="Your past searches"
            headers={['Time', 'Query', 'Dataset', 'Answer']}
            rows={shown.map((e) => [
              <time dateTime={e.createdAt}>{when(e.createdAt)}</time>,
              <span className="result-cell">{clip(e.query, 400)}</span>,
              e.datasetId ? (names.get(e.datasetId) ?? <span className="mono">{e.datasetId}</span>) : 'Several or all',
              <span className="result-cell">{e.answer === undefined ? 'No answer recorded' : summarise(e.answer)}</span>,
            ])}
            empty="You have not searched yet."
          />
          {entries.length > HISTORY_SHOWN ? (
            <button type="button" className="button button-small button-quiet search-history-more" onClick={() => setAllHistory((v) => !v)}>
              {allHistory ? `Show the latest ${HISTORY_SHOWN} searches` : `Show all ${entries.length} searches`}
            </button>
          ) : null}
          </>
        )}
      </section>
    </Page>
  );
}
