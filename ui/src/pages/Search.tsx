import { useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import { listDatasets } from '../api/datasets';
import { search, searchHistory, type HistoryRow, type SearchRequest } from '../api/search';
import { Button, Field, Notice, Page, Table, useAction, useLoad } from '../components';
import { Link, useLocation } from '../router';
import { clip, isPerDataset, Results, summarise, type Outcome } from './SearchResults';

/**
 * Search the datasets you can read and see your past searches (api/search). Every result is
 * rendered as React text, never as HTML (SearchResults.tsx draws them).
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
      const where = isPerDataset(response) ? `${response.length} dataset${response.length === 1 ? '' : 's'}` : plainTitle;
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
          <Field
            label="Top K"
            type="number"
            name="top_k"
            min={1}
            max={1000}
            step={1}
            value={topK}
            onChange={(e) => setTopK(e.target.value)}
            hint="How many results per dataset (1–1000)."
          />
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
