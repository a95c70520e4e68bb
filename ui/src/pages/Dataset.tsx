import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, errorMessage } from '../api/client';
import { addFiles, addText, cognify, datasetStatuses, deleteItem, itemRawUrl, listDatasets, listItems, type DataItem, type Dataset } from '../api/datasets';
import { me } from '../api/users';
import { Button, ConfirmButton, Notice, Page, Table, useAction, useLoad } from '../components';
import { Link } from '../router';
import { formatDate, isActive, RUN, statusLabel } from './Datasets';

const URL_LINE = /^https?:\/\/\S+$/i;

/** One text item, or one URL per line when every non-empty line is an http(s) URL. */
export function textItems(text: string): { items: string[]; urls: boolean } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length > 0 && lines.every((l) => URL_LINE.test(l))) return { items: lines, urls: true };
  return { items: [text], urls: false };
}

function fileName(item: DataItem): string {
  if (!item.extension || item.name.toLowerCase().endsWith(`.${item.extension.toLowerCase()}`)) return item.name;
  return `${item.name}.${item.extension}`;
}

function sizeOf(item: DataItem): number | undefined {
  const size = item.dataSize ?? item.data_size;
  return typeof size === 'number' && Number.isFinite(size) ? size : undefined;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function DatasetPage({ params }: { params: Record<string, string> }) {
  const id = (params.id ?? '').toLowerCase();
  const datasets = useLoad(listDatasets, []);
  const dataset = datasets.data?.find((d) => d.id === id);

  if (datasets.error) {
    return (
      <Page title="Dataset">
        <Notice kind="error">{datasets.error}</Notice>
        <p>
          <Link to="/datasets">Back to datasets</Link>
        </p>
      </Page>
    );
  }
  if (!datasets.data) {
    return (
      <Page title="Dataset">
        <p className="loading" role="status">
          Loading the dataset…
        </p>
      </Page>
    );
  }
  if (!dataset) {
    return (
      <Page title="Dataset not found">
        <p>There is no dataset with this id that you can read.</p>
        <p>
          <Link to="/datasets">Back to datasets</Link>
        </p>
      </Page>
    );
  }
  return <DatasetDetail dataset={dataset} />;
}

function DatasetDetail({ dataset }: { dataset: Dataset }) {
  const id = dataset.id;
  const items = useLoad(() => listItems(id), [id]);

  // Processing status: read once, then watched while a run may change it ('user': after Cognify).
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [statusRead, setStatusRead] = useState(false);
  const [statusError, setStatusError] = useState('');
  const [watch, setWatch] = useState<'none' | 'auto' | 'user'>('none');

  const readStatus = useCallback(async () => {
    try {
      const s = (await datasetStatuses([id]))[id];
      setStatus(s);
      setStatusRead(true);
      setStatusError('');
      if (isActive(s)) setWatch((w) => (w === 'none' ? 'auto' : w));
    } catch (e) {
      setStatusError(errorMessage(e));
    }
  }, [id]);

  useEffect(() => {
    void readStatus();
  }, [readStatus]);

  useEffect(() => {
    if (watch === 'none') return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const s = (await datasetStatuses([id]))[id];
        if (stopped) return;
        setStatus(s);
        setStatusRead(true);
        setStatusError('');
        if (!isActive(s)) return setWatch('none');
        timer = setTimeout(() => void tick(), watch === 'user' || s === RUN.STARTED ? 1000 : 3000);
      } catch (e) {
        if (stopped) return;
        setStatusError(errorMessage(e));
        setWatch('none');
      }
    };
    timer = setTimeout(() => void tick(), watch === 'user' ? 500 : 1000);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [id, watch]);

  const afterAdd = async () => {
    await Promise.all([items.reload(), readStatus()]);
  };

  return (
    <Page
      title={`Dataset ${dataset.name}`}
      actions={
        <p className="ds-links">
          <Link to={`/datasets/${id}/graph`}>Knowledge graph</Link>
          <Link to={`/search?dataset=${encodeURIComponent(id)}`}>Search this dataset</Link>
          <Link to="/datasets">All datasets</Link>
        </p>
      }
    >
      <div className="ds-add">
        <UploadFiles datasetId={id} onAdded={afterAdd} />
        <AddText datasetId={id} onAdded={afterAdd} />
      </div>
      <Cognify
        dataset={dataset}
        status={status}
        statusRead={statusRead}
        statusError={statusError}
        watching={watch === 'user'}
        onStarted={() => {
          setStatus(RUN.INITIATED);
          setWatch('user');
        }}
      />
      <Items dataset={dataset} items={items.data} error={items.error} loading={items.loading} reload={afterAdd} />
    </Page>
  );
}

function UploadFiles({ datasetId, onAdded }: { datasetId: string; onAdded: () => Promise<void> }) {
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  const action = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await action.run(async () => {
      const files = Array.from(input.current?.files ?? []);
      if (files.length === 0) throw new Error('Choose one or more files to upload.');
      const answer = await addFiles(datasetId, files);
      const count = answer?.data_ingestion_info?.length ?? files.length;
      if (input.current) input.current.value = '';
      await onAdded();
      return `Uploaded ${plural(count, 'file', 'files')}.`;
    });
  };

  return (
    <form className="card ds-card" onSubmit={submit} noValidate aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>Upload files</h2>
      <div className="field">
        <label htmlFor={inputId}>Files to upload</label>
        <input id={inputId} ref={input} type="file" name="data" multiple aria-describedby={`${inputId}-hint`} />
        <p className="hint" id={`${inputId}-hint`}>
          Text, Markdown, HTML, CSV, JSON, PDF and other documents; several at once.
        </p>
      </div>
      <Notice kind="error">{action.error}</Notice>
      <Notice kind="success">{action.success}</Notice>
      <Button type="submit" busy={action.busy}>
        Upload files
      </Button>
    </form>
  );
}

function AddText({ datasetId, onAdded }: { datasetId: string; onAdded: () => Promise<void> }) {
  const areaId = useId();
  const [text, setText] = useState('');
  const action = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await action.run(async () => {
      if (!text.trim()) throw new Error('Enter some text, or one or more URLs.');
      const { items, urls } = textItems(text);
      await addText(datasetId, items);
      setText('');
      await onAdded();
      return urls ? `Added ${plural(items.length, 'web page', 'web pages')}.` : 'Added the text.';
    });
  };

  return (
    <form className="card ds-card" onSubmit={submit} noValidate aria-labelledby={`${areaId}-title`}>
      <h2 id={`${areaId}-title`}>Add text or web pages</h2>
      <div className="field">
        <label htmlFor={areaId}>Text or URLs</label>
        <textarea id={areaId} name="text" value={text} onChange={(e) => setText(e.target.value)} aria-describedby={`${areaId}-hint`} />
        <p className="hint" id={`${areaId}-hint`}>
          Paste text to add it as one item, or http(s) addresses, one per line, to fetch those pages.
        </p>
      </div>
      <Notice kind="error">{action.error}</Notice>
      <Notice kind="success">{action.success}</Notice>
      <Button type="submit" busy={action.busy}>
        Add text
      </Button>
    </form>
  );
}

function Cognify({
  dataset,
  status,
  statusRead,
  statusError,
  watching,
  onStarted,
}: {
  dataset: Dataset;
  status: string | undefined;
  statusRead: boolean;
  statusError: string;
  watching: boolean;
  onStarted: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const running = status === RUN.STARTED || (watching && isActive(status));

  const start = async () => {
    setError('');
    setBusy(true);
    try {
      await cognify([dataset.id]);
      onStarted();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const tone = status === RUN.COMPLETED ? ' badge-ok' : status === RUN.ERRORED ? ' badge-err' : isActive(status) ? ' badge-warn' : '';
  return (
    <section className="card ds-card" aria-labelledby="cognify-title">
      <h2 id="cognify-title">Cognify</h2>
      <p>Cognify builds the knowledge graph and the search index of this dataset from its items. Run it again after adding items.</p>
      <p className="ds-run-status" role="status">
        {statusRead ? (
          <>
            Processing status: <span className={`badge${tone}`}>{statusLabel(status)}</span>
          </>
        ) : (
          'Reading the processing status…'
        )}
      </p>
      {statusError ? <Notice kind="error">{`The processing status could not be read: ${statusError}`}</Notice> : null}
      <Notice kind="error">{error}</Notice>
      <Button type="button" busy={busy || running} onClick={() => void start()}>
        Cognify
      </Button>
    </section>
  );
}

function Items({
  dataset,
  items,
  error,
  loading,
  reload,
}: {
  dataset: Dataset;
  items: DataItem[] | undefined;
  error: string;
  loading: boolean;
  reload: () => Promise<void>;
}) {
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState('');
  const [deleted, setDeleted] = useState('');
  const list = items ?? [];
  const withSize = list.some((i) => sizeOf(i) !== undefined);

  /** Deletes the item; false (the question stays open with the reason) when the server refuses. */
  const remove = async (item: DataItem): Promise<boolean> => {
    setDeleting(true);
    setDeleteError('');
    setDeleted('');
    try {
      // Not being allowed is a 401 here (as the reference answers); it must not end the session.
      await deleteItem(dataset.id, item.id);
      setDeleted(`${fileName(item)} was deleted.`);
      await reload();
      return true;
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401 && e.code !== 'UnauthorizedDataAccessError') {
        void me(); // the session is gone: the usual sign-in-again flow
      }
      setDeleteError(
        e instanceof ApiFailure && (e.code === 'UnauthorizedDataAccessError' || e.status === 403)
          ? `You are not allowed to delete items of ${dataset.name}. ${errorMessage(e)}`
          : errorMessage(e),
      );
      return false;
    } finally {
      setDeleting(false);
    }
  };

  const rows = list.map((item) => {
    const name = fileName(item);
    const size = sizeOf(item);
    return [
      <span className="mono" key="name">
        {name}
      </span>,
      <>
        {item.extension || '—'} <span className="ds-muted">({item.mimeType})</span>
      </>,
      ...(withSize ? [size === undefined ? '—' : formatSize(size)] : []),
      <time dateTime={item.createdAt} key="created">
        {formatDate(item.createdAt)}
      </time>,
      <div className="ds-item-actions" key="actions">
        <a className="button button-quiet button-small" href={itemRawUrl(dataset.id, item.id)} download={name} aria-label={`Download ${name}`}>
          Download
        </a>
        <ConfirmButton
          label="Delete"
          name={`Delete item ${name}`}
          question={`Delete ${name}?`}
          className="button button-quiet button-small"
          busy={deleting}
          onOpen={() => (setDeleteError(''), setDeleted(''))}
          onCancel={() => setDeleteError('')}
          onConfirm={() => remove(item)}
        />
      </div>,
    ];
  });

  return (
    <section aria-labelledby="items-title">
      <h2 id="items-title">Data items</h2>
      <Notice kind="error">{error}</Notice>
      <Notice kind="error">{deleteError}</Notice>
      <Notice kind="success">{deleted}</Notice>
      {loading && !items ? (
        <p className="loading">Loading the items…</p>
      ) : (
        <Table
          caption={`Items in ${dataset.name}`}
          headers={['Name', 'Type', ...(withSize ? ['Size'] : []), 'Added', 'Actions']}
          rows={rows}
          empty="No items yet. Upload files or add text above."
        />
      )}
    </section>
  );
}
