import { useState, type FormEvent } from 'react';
import { createApiKey, deleteApiKey, listApiKeys, type ApiKey } from '../api/apiKeys';
import { Button, ConfirmButton, Field, Notice, Page, Table, useAction, useLoad } from '../components';

/** How a key is named on buttons: its name, else its first characters. */
const keyName = (k: ApiKey) => k.name || k.label || k.id;

export function ApiKeysPage() {
  const keys = useLoad(listApiKeys, []);
  const [name, setName] = useState('');
  // The new key lives only in this component's state: gone when the page is left, replaced by the
  // next creation, never put in storage (D21).
  const [created, setCreated] = useState<(ApiKey & { key: string }) | undefined>(undefined);
  const [copied, setCopied] = useState('');
  const [copyError, setCopyError] = useState('');
  const create = useAction();
  const remove = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setCreated(undefined);
    setCopied('');
    setCopyError('');
    remove.clear();
    await create.run(async () => {
      const key = await createApiKey(name.trim() || null);
      setCreated(key);
      setName('');
      await keys.reload();
    });
  };

  const copy = async () => {
    if (!created) return;
    setCopied('');
    setCopyError('');
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('Copied');
    } catch {
      setCopyError('The key could not be copied. Select it in the field and copy it yourself.');
    }
  };

  const rows = (keys.data ?? []).map((k) => [
    k.name ? k.name : <span className="empty">No name</span>,
    <span className="mono">{k.label ?? '—'}</span>,
    <ConfirmButton
      label="Delete"
      name={`Delete API key ${keyName(k)}`}
      busy={remove.busy}
      onConfirm={() =>
        remove.run(async () => {
          await deleteApiKey(k.id);
          if (created?.id === k.id) setCreated(undefined);
          await keys.reload();
          return `API key ${keyName(k)} deleted.`;
        })
      }
    />,
  ]);

  return (
    <Page title="API keys">
      <p className="adm-lead">
        An API key lets a program call the API as you: send it in the <code>X-Api-Key</code> header. Anyone holding it acts as you, so keep it secret and delete
        keys you no longer use.
      </p>

      <section className="card adm-card" aria-labelledby="create-key-heading">
        <h2 id="create-key-heading">Create an API key</h2>
        <form onSubmit={submit} noValidate>
          <div className="row">
            <Field
              label="Key name"
              name="name"
              maxLength={255}
              hint="Optional: what the key is for, e.g. the program that uses it."
              value={name}
              onChange={(e) => setName(e.target.value)}
              autoComplete="off"
            />
          </div>
          <Notice kind="error">{create.error}</Notice>
          <Button type="submit" busy={create.busy}>
            Create API key
          </Button>
        </form>
      </section>

      {created ? (
        <section className="card adm-card adm-new-key" aria-labelledby="new-key-heading">
          <h2 id="new-key-heading">API key created</h2>
          <p className="adm-new-key-warning">
            <strong>Copy this key now. It will not be shown again.</strong> If you lose it, delete it and create another.
          </p>
          <div className="row">
            <Field
              label="New API key"
              className="mono adm-new-key-value"
              readOnly
              value={created.key}
              onFocus={(e) => e.currentTarget.select()}
              spellCheck={false}
              autoComplete="off"
            />
            <Button type="button" onClick={() => void copy()}>
              Copy key
            </Button>
          </div>
          <p role="status" className="adm-copy-status">
            {copied}
          </p>
          <Notice kind="error">{copyError}</Notice>
          <Button type="button" className="button button-quiet" onClick={() => setCreated(undefined)}>
            I have saved the key, hide it
          </Button>
        </section>
      ) : null}

      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading">Existing keys</h2>
        <Notice kind="error">{keys.error || remove.error}</Notice>
        <Notice kind="success">{remove.success}</Notice>
        {keys.loading && !keys.data ? (
          <p className="loading">Loading…</p>
        ) : (
          <Table caption="Your API keys" headers={['Name', 'Starts with', 'Actions']} rows={rows} empty="You have no API keys yet." />
        )}
      </section>
    </Page>
  );
}
