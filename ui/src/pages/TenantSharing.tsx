import { useEffect, useId, useState } from 'react';
import { listDatasets } from '../api/datasets';
import { changeDatasetPermission, datasetPrincipals, PERMISSIONS, type Permission, type Role, type TenantRef } from '../api/permissions';
import { userIdOf } from '../api/users';
import { Button, Field, Notice, Table, useAction, useLoad } from '../components';
import { guarded, Select } from './tenantParts';

type Target = 'user' | 'role' | 'tenant';

/** Sharing datasets of the active space, and who holds what on one of them. */
export function Sharing({ tenant, roles: roleList }: { tenant: TenantRef | null; roles: Role[] }) {
  const datasets = useLoad(listDatasets, []);
  const list = datasets.data ?? [];
  const [datasetId, setDatasetId] = useState('');
  const [target, setTarget] = useState<Target>('user');
  const [email, setEmail] = useState('');
  const [roleId, setRoleId] = useState('');
  const [chosen, setChosen] = useState<Set<Permission>>(new Set(['read']));
  const [inspectId, setInspectId] = useState('');
  const action = useAction();
  const groupId = useId();

  // Default the choices to the first dataset once the list is known.
  useEffect(() => {
    const first = list[0]?.id ?? '';
    if (!list.some((d) => d.id === datasetId)) setDatasetId(first);
    if (!list.some((d) => d.id === inspectId)) setInspectId(first);
  }, [list, datasetId, inspectId]);

  const holders = useLoad(() => (inspectId ? guarded(() => datasetPrincipals(inspectId)) : Promise.resolve(undefined)), [inspectId]);

  const change = async (event: { preventDefault(): void }, action_: 'grant' | 'revoke') => {
    event.preventDefault();
    const dataset = list.find((d) => d.id === datasetId);
    const permissions = PERMISSIONS.filter((p) => chosen.has(p));
    await action.run(async () => {
      if (!dataset) throw new Error('Choose a dataset.');
      if (permissions.length === 0) throw new Error('Choose at least one permission.');
      let principalId: string;
      let who: string;
      if (target === 'user') {
        const address = email.trim();
        if (!address) throw new Error('Enter the e-mail address of the person to share with.');
        principalId = await userIdOf(address);
        who = address;
      } else if (target === 'role') {
        const role = roleList.find((r) => r.id === roleId);
        if (!role) throw new Error('Choose a role.');
        principalId = role.id;
        who = `the role ${role.name}`;
      } else {
        if (!tenant) throw new Error('Switch to a tenant to share with all its members.');
        principalId = tenant.id;
        who = `everyone in ${tenant.name}`;
      }
      let offered = false;
      for (const permission of permissions) {
        const pending = await changeDatasetPermission(action_, principalId, permission, [dataset.id]);
        offered ||= pending.length > 0;
      }
      if (inspectId === dataset.id) await holders.reload();
      else setInspectId(dataset.id);
      const names = permissions.join(', ');
      if (action_ === 'revoke') return `Revoked ${names} on ${dataset.name} from ${who}.`;
      // D23: a user outside the dataset's tenant gets an offer, which grants nothing until accepted.
      return offered ? `Offered ${names} on ${dataset.name} to ${who}: it takes effect once they accept it.` : `Granted ${names} on ${dataset.name} to ${who}.`;
    });
  };

  const toggle = (p: Permission, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(p);
    else next.delete(p);
    setChosen(next);
  };

  const inspected = list.find((d) => d.id === inspectId);
  const kind = { user: 'User', role: 'Role', tenant: 'Tenant' } as const;
  const holderRows =
    holders.data && 'ok' in holders.data
      ? holders.data.ok.map((h) => [
          h.name ?? <span className="mono">{h.principal_id}</span>,
          kind[h.principal_type],
          <ul className="adm-perms" aria-label={`Permissions of ${h.name ?? h.principal_id}`}>
            {h.permissions.map((p) => (
              <li key={p} className="badge">
                {p}
              </li>
            ))}
            {(h.pending_permissions ?? []).map((p) => (
              <li key={`pending-${p}`} className="badge badge-warn">
                {p} (not accepted yet)
              </li>
            ))}
          </ul>,
        ])
      : [];

  return (
    <>
      <section aria-labelledby="share-heading">
        <h2 id="share-heading">Share a dataset</h2>
        <Notice kind="error">{datasets.error}</Notice>
        {datasets.loading && !datasets.data ? (
          <p className="loading">Loading…</p>
        ) : list.length === 0 ? (
          <p className="empty">You have no datasets in {tenant ? tenant.name : 'your personal space'} yet.</p>
        ) : (
          <form className="card adm-card" onSubmit={(e) => void change(e, 'grant')} noValidate>
            <p className="hint">You need the share permission on a dataset to share it or revoke access to it.</p>
            <Select label="Dataset to share" value={datasetId} onChange={setDatasetId}>
              {list.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name}
                </option>
              ))}
            </Select>
            <fieldset className="adm-choices">
              <legend>Share with</legend>
              <label>
                <input type="radio" name={`${groupId}-target`} value="user" checked={target === 'user'} onChange={() => setTarget('user')} /> A user
              </label>
              {tenant ? (
                <label>
                  <input type="radio" name={`${groupId}-target`} value="role" checked={target === 'role'} onChange={() => setTarget('role')} /> A role
                </label>
              ) : null}
              {tenant ? (
                <label>
                  <input type="radio" name={`${groupId}-target`} value="tenant" checked={target === 'tenant'} onChange={() => setTarget('tenant')} /> Everyone
                  in the tenant
                </label>
              ) : null}
            </fieldset>
            {target === 'user' ? (
              <Field label="User e-mail" type="email" name="share_email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />
            ) : target === 'role' ? (
              roleList.length === 0 ? (
                <p className="empty">There are no roles you can see in this tenant.</p>
              ) : (
                <Select label="Role to share with" value={roleId} onChange={setRoleId}>
                  <option value="">Choose a role</option>
                  {roleList.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.name}
                    </option>
                  ))}
                </Select>
              )
            ) : (
              <p className="hint">Every member of {tenant?.name} gets the chosen permissions.</p>
            )}
            <fieldset className="adm-choices">
              <legend>Permissions</legend>
              {PERMISSIONS.map((p) => (
                <label key={p}>
                  <input type="checkbox" checked={chosen.has(p)} onChange={(e) => toggle(p, e.target.checked)} /> {p.charAt(0).toUpperCase() + p.slice(1)}
                </label>
              ))}
            </fieldset>
            <Notice kind="error">{action.error}</Notice>
            <Notice kind="success">{action.success}</Notice>
            <div className="row">
              <Button type="submit" busy={action.busy}>
                Grant permissions
              </Button>
              <Button type="button" className="button button-danger" busy={action.busy} onClick={(e) => void change(e, 'revoke')}>
                Revoke permissions
              </Button>
            </div>
          </form>
        )}
      </section>

      <section aria-labelledby="holders-heading">
        <h2 id="holders-heading">Who has what</h2>
        {list.length === 0 ? (
          <p className="empty">There are no datasets to look at here.</p>
        ) : (
          <>
            <div className="row adm-inspect">
              <Select label="Dataset to inspect" value={inspectId} onChange={setInspectId}>
                {list.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </Select>
            </div>
            <Notice kind="error">{holders.error}</Notice>
            {holders.data && 'refused' in holders.data ? (
              <Notice kind="info">
                You need the share permission on {inspected?.name ?? 'this dataset'} to see who has access to it. ({holders.data.refused})
              </Notice>
            ) : holders.loading && !holders.data ? (
              <p className="loading">Loading…</p>
            ) : (
              <Table
                caption={`Who has what on ${inspected?.name ?? ''}`}
                headers={['Who', 'Kind', 'Permissions']}
                rows={holderRows}
                empty="Nobody holds a permission on this dataset."
              />
            )}
          </>
        )}
      </section>
    </>
  );
}
