import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { getSettings, saveSettings, type Option, type SettingsUpdate } from '../api/settings';
import { Button, Field, Notice, Page, useAction, useLoad } from '../components';
import { useSession } from '../session';

function Select({
  label,
  value,
  onChange,
  options,
  hint,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: Option[];
  hint?: ReactNode;
}) {
  const id = useId();
  const known = options.some((o) => o.value === value);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={hint ? `${id}-hint` : undefined}>
        {known || !value ? null : <option value={value}>{value}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

const storedKey = (masked: string | null | undefined) =>
  masked ? `A key is stored (${masked}). Leave this empty to keep it; type a new key to replace it.` : 'No key is stored. Leave this empty for none.';

/** A key to replace the stored one (`stored`, masked): typed only, never filled in by the browser. */
function KeyField({
  label,
  name,
  stored,
  value,
  onChange,
}: {
  label: string;
  name: string;
  stored: string | null | undefined;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <Field
      label={label}
      name={name}
      type="password"
      hint={storedKey(stored)}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      autoComplete="new-password"
      spellCheck={false}
    />
  );
}

export function SettingsPage() {
  const { user } = useSession();
  if (!user?.is_superuser) {
    return (
      <Page title="Settings">
        <Notice kind="info">Only a superuser can change the server's settings.</Notice>
      </Page>
    );
  }
  return <SettingsForm />;
}

function SettingsForm() {
  const settings = useLoad(getSettings, []);
  const save = useAction();
  const modelsId = useId();
  const [provider, setProvider] = useState('');
  const [model, setModel] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [llmKey, setLlmKey] = useState('');
  const [vectorProvider, setVectorProvider] = useState('');
  const [vectorUrl, setVectorUrl] = useState('');
  const [vectorKey, setVectorKey] = useState('');

  // Fill the form from what the server holds (again after every save).
  const data = settings.data;
  useEffect(() => {
    if (!data) return;
    setProvider(data.llm.provider);
    setModel(data.llm.model);
    setEndpoint(data.llm.endpoint ?? '');
    setVectorProvider(data.vectorDb.provider);
    setVectorUrl(data.vectorDb.url ?? '');
    setLlmKey('');
    setVectorKey('');
  }, [data]);

  const changeProvider = (next: string) => {
    setProvider(next);
    // A new provider starts from its own default endpoint and first model.
    setEndpoint('');
    setModel(data?.llm.models[next]?.[0]?.value ?? '');
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await save.run(async () => {
      if (!model.trim()) throw new Error('Enter the model name.');
      // An empty key field keeps the stored key: the key is sent only when one was typed.
      const body: SettingsUpdate = {
        llm: { provider, model: model.trim(), endpoint: endpoint.trim() || null, ...(llmKey.trim() ? { apiKey: llmKey.trim() } : {}) },
        vectorDb: { provider: vectorProvider, url: vectorUrl.trim(), ...(vectorKey.trim() ? { apiKey: vectorKey.trim() } : {}) },
      };
      await saveSettings(body);
      await settings.reload();
      return 'Settings saved.';
    });
  };

  if (!data) {
    return (
      <Page title="Settings">
        <Notice kind="error">{settings.error}</Notice>
        {settings.error ? null : <p className="loading">Loading…</p>}
      </Page>
    );
  }

  const models = data.llm.models[provider] ?? [];
  return (
    <Page title="Settings">
      <p className="adm-lead">
        The language model and vector store the server uses for cognify and search. Changes apply to every instance of the server; keys are stored encrypted and
        only ever shown masked.
      </p>
      <form onSubmit={submit} noValidate>
        <section className="card adm-card" aria-labelledby="llm-heading">
          <h2 id="llm-heading">Language model</h2>
          <Select label="LLM provider" value={provider} onChange={changeProvider} options={data.llm.providers} />
          <Field
            label="LLM model"
            name="llm_model"
            list={modelsId}
            required
            maxLength={200}
            hint="Pick a suggestion or type any model name the provider serves."
            value={model}
            onChange={(e) => setModel(e.target.value)}
            autoComplete="off"
          />
          <datalist id={modelsId}>
            {models.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </datalist>
          <Field
            label="LLM endpoint"
            name="llm_endpoint"
            type="url"
            maxLength={2048}
            hint="An OpenAI-compatible base URL (http or https). Leave empty for the provider's default."
            value={endpoint}
            onChange={(e) => setEndpoint(e.target.value)}
            autoComplete="off"
          />
          <KeyField label="LLM API key" name="llm_api_key" stored={data.llm.apiKey} value={llmKey} onChange={setLlmKey} />
        </section>

        <section className="card adm-card" aria-labelledby="vector-heading">
          <h2 id="vector-heading">Vector store</h2>
          <Select
            label="Vector store provider"
            value={vectorProvider}
            onChange={setVectorProvider}
            options={data.vectorDb.providers}
            hint="Recorded and shown here; the store in use is chosen by VECTOR_DB_PROVIDER when the server starts."
          />
          <Field
            label="Vector store URL"
            name="vector_url"
            maxLength={2048}
            value={vectorUrl}
            onChange={(e) => setVectorUrl(e.target.value)}
            autoComplete="off"
          />
          <KeyField label="Vector store API key" name="vector_api_key" stored={data.vectorDb.apiKey} value={vectorKey} onChange={setVectorKey} />
        </section>

        <Notice kind="error">{save.error || settings.error}</Notice>
        <Notice kind="success">{save.success}</Notice>
        <Button type="submit" busy={save.busy}>
          Save settings
        </Button>
      </form>
    </Page>
  );
}
