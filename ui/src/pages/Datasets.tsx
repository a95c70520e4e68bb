import { useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, errorMessage } from '../api/client';
import { createDataset, datasetStatuses, deleteDataset, listDatasets, type Dataset } from '../api/datasets';
import { answerShare, receivedShares, type ReceivedShare } from '../api/permissions';
import { Button, ConfirmButton, Field, Notice, Page, Table, useAction, useLoad } from '../components';
import { Link } from '../router';
import { useSession } from '../session';

/** The cognify pipeline's latest status of a dataset (api/datasets `datasetStatuses`). */
export const RUN = {
  INITIATED: 'DATASET_PROCESSING_INITIATED',
  STARTED: 'DATASET_PROCESSING_STARTED',
  COMPLETED: 'DATASET_PROCESSING_COMPLETED',
  ERRORED: 'DATASET_PROCESSING_ERRORED',
} as const;

/** Whether a status means a run may still change it (queued, or new data waiting, or running). */
export const isActive = (status: string | undefined) => status === RUN.INITIATED || status === RUN.STARTED;

/** Words for a status; `undefined` is a dataset never processed. */
export function statusLabel(status: string | undefined): string {
  switch (status) {
    case undefined:
      return 'Not processed yet';
    case RUN.INITIATED:
      return 'Waiting to be processed';
    case RUN.STARTED:
      return 'Processing…';
    case RUN.COMPLETED:
      return 'Completed';
    case RUN.ERRORED:
      return 'Failed';
    default:
      return status;
  }
}

export function StatusBadge({ status }: { status: string | undefined }) {
  const tone = status === RUN.COMPLETED ? ' badge-ok' : status === RUN.ERRORED ? ' badge-err' : isActive(status) ? ' badge-warn' : '';
  return <span className={`badge${tone}`}>{statusLabel(status)}</span>;
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function DatasetsPage() {
  const { user } = useSession();
  const list = useLoad(listDatasets, []);
  const datasets = list.data ?? [];
  const [statuses, setStatuses] = useState<Record<string, string>>({});
  const [statusError, setStatusError] = useState('');
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState('');
  const [message, setMessage] = useState<{ text: string; link?: Dataset } | undefined>(undefined);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState('');

  const ids = datasets.map((d) => d.id).join(',');

  // Statuses of the listed datasets; looked at again every few seconds while a run may change one.
  useEffect(() => {
    const list = ids ? ids.split(',') : [];
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await datasetStatuses(list);
        if (stopped) return;
        setStatuses(next);
        setStatusError('');
        if (Object.values(next).some(isActive)) timer = setTimeout(() => void load(), 3000);
      } catch (e) {
        if (!stopped) setStatusError(errorMessage(e));
      }
    };
    void load();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [ids]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreateError('');
    setMessage(undefined);
    const wanted = name.trim();
    if (!wanted) return setCreateError('Enter a name for the dataset.');
    setCreating(true);
    try {
      const dataset = await createDataset(wanted);
      const existed = datasets.some((d) => d.id === dataset.id);
      setMessage({ text: existed ? `You already have a dataset named ${dataset.name}.` : `Dataset ${dataset.name} was created.`, link: dataset });
      setName('');
      await list.reload();
    } catch (e) {
      setCreateError(errorMessage(e));
    } finally {
      setCreating(false);
    }
  };

  /** Deletes the dataset; false (the question stays open with the reason) when the server refuses. */
  const remove = async (dataset: Dataset): Promise<boolean> => {
    setDeleting(true);
    setDeleteError('');
    setMessage(undefined);
    try {
      await deleteDataset(dataset.id);
      setMessage({ text: `Dataset ${dataset.name} was deleted.` });
      await list.reload();
      return true;
    } catch (e) {
      setDeleteError(
        e instanceof ApiFailure && e.status === 403 ? `You are not allowed to delete dataset ${dataset.name}. ${errorMessage(e)}` : errorMessage(e),
      );
      return false;
    } finally {
      setDeleting(false);
    }
  };

  const rows = datasets.map((d) => [
    <Link to={`/datasets/${d.id}`} key="name">
      {d.name}
    </Link>,
    <time dateTime={d.createdAt} key="created">
      {formatDate(d.createdAt)}
    </time>,
    d.ownerId === user?.id ? 'You' : <span className="mono">{d.ownerId}</span>,
    <StatusBadge status={statuses[d.id]} key="status" />,
    <ConfirmButton
      key="actions"
      label="Delete"
      name={`Delete dataset ${d.name}`}
      question={`Delete ${d.name} and everything in it?`}
      className="button button-quiet button-small"
      busy={deleting}
      onOpen={() => setDeleteError('')}
      onCancel={() => setDeleteError('')}
      onConfirm={() => remove(d)}
    />,
  ]);

  return (
    <Page title="Datasets">
      <form className="card ds-card" onSubmit={create} noValidate aria-labelledby="create-dataset-title">
        <h2 id="create-dataset-title">Create a dataset</h2>
        <div className="row">
          <Field label="Dataset name" name="name" required autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
          <div className="ds-row-action">
            <Button type="submit" busy={creating}>
              Create dataset
            </Button>
          </div>
        </div>
        <Notice kind="error">{createError}</Notice>
      </form>
      {message ? (
        <Notice kind="success">
          {message.text}
          {message.link ? (
            <>
              {' '}
              <Link to={`/datasets/${message.link.id}`}>Open dataset {message.link.name}</Link>
            </>
          ) : null}
        </Notice>
      ) : null}
      <h2>Your datasets</h2>
      <Notice kind="error">{list.error}</Notice>
      <Notice kind="error">{deleteError}</Notice>
      {statusError ? <Notice kind="error">{`The processing status could not be read: ${statusError}`}</Notice> : null}
      {list.loading && !list.data ? (
        <p className="loading">Loading datasets…</p>
      ) : (
        <Table
          caption="Datasets you can read"
          headers={['Name', 'Created', 'Owner', 'Processing status', 'Actions']}
          rows={rows}
          empty="No datasets yet. Create one above, then add files or text to it."
        />
      )}
      <SharedWithYou onChange={list.reload} />
    </Page>
  );
}

/**
 * Datasets shared with you as a user (D23): a share from outside your tenants waits here until you
 * accept it, and grants nothing before; any share you received can be removed again.
 */
export function SharedWithYou({ onChange }: { onChange: () => Promise<void> }) {
  const shares = useLoad(receivedShares, []);
  const action = useAction();

  const answer = (kind: 'accept' | 'decline' | 'drop', share: ReceivedShare) =>
    action.run(async () => {
      await answerShare(kind, share.dataset_id);
      await Promise.all([shares.reload(), onChange()]);
      const done = { accept: 'accepted', decline: 'declined', drop: 'removed' }[kind];
      return `The share of ${share.dataset_name} was ${done}.`;
    });

  const rows = (shares.data ?? []).map((s) => [
    s.dataset_name,
    s.owner_email ?? '—',
    <ul className="adm-perms" aria-label={`Permissions on ${s.dataset_name}`} key="perms">
      {s.permissions.map((p) => (
        <li key={p} className="badge">
          {p}
        </li>
      ))}
    </ul>,
    <span className={`badge${s.status === 'pending' ? ' badge-warn' : ' badge-ok'}`} key="status">
      {s.status === 'pending' ? 'Waiting for you' : 'Accepted'}
    </span>,
    <time dateTime={s.since} key="since">
      {formatDate(s.since)}
    </time>,
    <span key="actions">
      {s.status === 'pending' ? (
        <>
          <Button
            type="button"
            className="button button-small"
            busy={action.busy}
            aria-label={`Accept ${s.dataset_name}`}
            onClick={() => void answer('accept', s)}
          >
            Accept
          </Button>{' '}
          <Button
            type="button"
            className="button button-quiet button-small"
            busy={action.busy}
            aria-label={`Decline ${s.dataset_name}`}
            onClick={() => void answer('decline', s)}
          >
            Decline
          </Button>
        </>
      ) : (
        <ConfirmButton
          label="Remove"
          name={`Remove share of ${s.dataset_name}`}
          question={`Remove ${s.dataset_name} from your datasets? Its owner would have to share it again.`}
          className="button button-quiet button-small"
          busy={action.busy}
          onOpen={action.clear}
          onConfirm={() => answer('drop', s)}
        />
      )}
    </span>,
  ]);

  return (
    <section aria-labelledby="shared-with-you">
      <h2 id="shared-with-you">Shared with you</h2>
      <p className="hint">A dataset shared with you from outside your tenants reaches your searches only once you accept it.</p>
      <Notice kind="error">{shares.error}</Notice>
      <Notice kind="error">{action.error}</Notice>
      <Notice kind="success">{action.success}</Notice>
      {shares.loading && !shares.data ? (
        <p className="loading">Loading shares…</p>
      ) : (
        <Table
          caption="Datasets shared with you"
          headers={['Dataset', 'Owner', 'Permissions', 'Status', 'Since', 'Actions']}
          rows={rows}
          empty="Nothing has been shared with you."
        />
      )}
    </section>
  );
}
