import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { ApiFailure, errorMessage } from '../api/client';
import { listDatasets } from '../api/datasets';
import {
  addUserToRole,
  addUserToTenant,
  changeDatasetPermission,
  createRole as createRoleOnServer,
  createTenant,
  datasetPrincipals,
  deleteRole as deleteRoleOnServer,
  myTenants,
  PERMISSIONS,
  removeUserFromRole,
  removeUserFromTenant,
  selectTenant,
  tenantRoles,
  tenantUsers,
  type Member,
  type Permission,
  type Role,
  type RoleRef,
  type TenantRef,
} from '../api/permissions';
import { userIdOf } from '../api/users';
import { Button, ConfirmButton, Field, FormCard, Notice, Page, Table, useAction, useLoad } from '../components';
import { useSession } from '../session';

/** Tenants, their members and roles, and dataset sharing (api/permissions). */

/** A load the server may refuse with 403 (not a manager, no share): the refusal is shown as information. */
type Guarded<T> = { ok: T } | { refused: string };
async function guarded<T>(load: () => Promise<T>): Promise<Guarded<T>> {
  try {
    return { ok: await load() };
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 403) return { refused: errorMessage(e) };
    throw e;
  }
}

function Select({ label, value, onChange, children }: { label: string; value: string; onChange: (v: string) => void; children: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {children}
      </select>
    </div>
  );
}

export function TenantsPage() {
  const { user, refresh } = useSession();
  const activeId = user?.tenant_id ?? null;
  const tenants = useLoad(myTenants, [activeId]);
  const active = activeId ? (tenants.data?.find((t) => t.id === activeId) ?? { id: activeId, name: activeId }) : null;
  // One list of the active tenant's roles, for the roles table and the sharing form alike.
  const roles = useLoad(() => (activeId ? tenantRoles(activeId) : Promise.resolve([] as Role[])), [activeId]);

  return (
    <Page title="Tenants & roles">
      <p className="adm-lead">
        You are working in{' '}
        <strong>{active ? `the tenant ${active.name}` : 'your personal space'}</strong>. Datasets belong to the tenant
        that was active when they were created; switching changes which datasets you see everywhere in the app.
      </p>
      <TenantsSection tenants={tenants.data} loadError={tenants.error} activeId={activeId} reload={tenants.reload} refresh={refresh} />
      {active ? <TenantAdmin key={active.id} tenant={active} selfId={user?.id ?? ''} roles={roles} /> : null}
      <Sharing key={activeId ?? 'personal'} tenant={active} roles={roles.data ?? []} />
    </Page>
  );
}

function TenantsSection({
  tenants,
  loadError,
  activeId,
  reload,
  refresh,
}: {
  tenants: TenantRef[] | undefined;
  loadError: string;
  activeId: string | null;
  reload: () => Promise<void>;
  refresh: () => Promise<unknown>;
}) {
  const [name, setName] = useState('');
  const action = useAction();

  const select = (tenant: TenantRef | null) =>
    action.run(async () => {
      await selectTenant(tenant ? tenant.id : null);
      await refresh();
      await reload();
      return tenant ? `You are now working in ${tenant.name}.` : 'You are now working in your personal space.';
    });

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const tenantName = name.trim();
    const ok = await action.run(async () => {
      if (!tenantName) throw new Error('Enter a name for the tenant.');
      await createTenant(tenantName);
      await refresh();
      await reload();
      return `Tenant ${tenantName} created. It is now your active tenant.`;
    });
    if (ok) setName('');
  };

  const activeBadge = <span className="badge badge-ok">Active</span>;
  const rows: ReactNode[][] = [
    [
      'Personal space',
      activeId === null ? activeBadge : '',
      activeId === null ? (
        ''
      ) : (
        <Button type="button" className="button button-small" busy={action.busy} onClick={() => void select(null)}>
          Switch to personal space
        </Button>
      ),
    ],
    ...(tenants ?? []).map((t) => [
      t.name,
      t.id === activeId ? activeBadge : '',
      t.id === activeId ? (
        ''
      ) : (
        <Button type="button" className="button button-small" busy={action.busy} aria-label={`Switch to tenant ${t.name}`} onClick={() => void select(t)}>
          Switch
        </Button>
      ),
    ]),
  ];

  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Your tenants</h2>
      <Notice kind="error">{loadError || action.error}</Notice>
      <Notice kind="success">{action.success}</Notice>
      <Table caption="Tenants you belong to" headers={['Name', 'Status', 'Actions']} rows={rows} empty="" />
      <FormCard heading="Create a tenant" submit="Create tenant" busy={action.busy} onSubmit={create}>
        <div className="row">
          <Field
            label="Tenant name"
            name="tenant_name"
            maxLength={255}
            hint="You will own it, and it becomes your active tenant."
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
          />
        </div>
      </FormCard>
    </section>
  );
}

/** Members and roles of the active tenant: the owner and `admin` role holders manage them. */
type Loaded<T> = ReturnType<typeof useLoad<T>>;

function TenantAdmin({ tenant, selfId, roles }: { tenant: TenantRef; selfId: string; roles: Loaded<Role[]> }) {
  const members = useLoad(() => guarded(() => tenantUsers(tenant.id)), [tenant.id]);
  const memberAction = useAction();
  const roleAction = useAction();
  const [email, setEmail] = useState('');
  const [roleName, setRoleName] = useState('');
  const [assignUser, setAssignUser] = useState('');
  const [assignRole, setAssignRole] = useState('');

  const memberList = members.data && 'ok' in members.data ? members.data.ok : undefined;
  const roleList = roles.data ?? [];
  const reloadBoth = async () => {
    await Promise.all([members.reload(), roles.reload()]);
  };

  const addMember = async (event: FormEvent) => {
    event.preventDefault();
    const address = email.trim();
    const ok = await memberAction.run(async () => {
      if (!address) throw new Error('Enter the e-mail address of the person to add.');
      const id = await userIdOf(address);
      await addUserToTenant(id, tenant.id);
      await members.reload();
      return `${address} is now a member of ${tenant.name}.`;
    });
    if (ok) setEmail('');
  };

  const removeMember = (m: Member) =>
    memberAction.run(async () => {
      await removeUserFromTenant(tenant.id, m.id);
      await reloadBoth();
      return `${m.email} was removed from ${tenant.name}.`;
    });

  const removeFromRole = (m: Member, r: RoleRef) =>
    memberAction.run(async () => {
      await removeUserFromRole(m.id, r.id);
      await reloadBoth();
      return `${m.email} no longer has the role ${r.name}.`;
    });

  const createRole = async (event: FormEvent) => {
    event.preventDefault();
    const nameOf = roleName.trim();
    const ok = await roleAction.run(async () => {
      if (!nameOf) throw new Error('Enter a name for the role.');
      await createRoleOnServer(nameOf);
      await roles.reload();
      return `Role ${nameOf} created.`;
    });
    if (ok) setRoleName('');
  };

  const deleteRole = (r: Role) =>
    roleAction.run(async () => {
      await deleteRoleOnServer(r.id);
      await reloadBoth();
      return `Role ${r.name} deleted.`;
    });

  const assign = async (event: FormEvent) => {
    event.preventDefault();
    const m = memberList?.find((x) => x.id === assignUser);
    const r = roleList.find((x) => x.id === assignRole);
    await roleAction.run(async () => {
      if (!m || !r) throw new Error('Choose a member and a role.');
      await addUserToRole(m.id, r.id);
      await reloadBoth();
      return `${m.email} now has the role ${r.name}.`;
    });
  };

  const memberRows = (memberList ?? []).map((m) => [
    m.email,
    m.roles.length === 0 ? (
      <span className="empty">No roles</span>
    ) : (
      <ul className="adm-chips">
        {m.roles.map((r) => (
          <li key={r.id}>
            <span className="badge">{r.name}</span>
            <button
              type="button"
              className="adm-chip-remove"
              aria-label={`Remove ${m.email} from role ${r.name}`}
              disabled={memberAction.busy}
              onClick={() => void removeFromRole(m, r)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
    ),
    m.id === selfId ? <span className="empty">You</span> : <ConfirmButton label="Remove" name={`Remove member ${m.email}`} busy={memberAction.busy} onConfirm={() => removeMember(m)} />,
  ]);

  // The member list is refused to anyone but the owner and admins: they alone manage roles.
  const manager = memberList !== undefined;
  const roleRows = roleList.map((r) => [
    r.name,
    String(r.user_count),
    ...(manager ? [<ConfirmButton label="Delete" name={`Delete role ${r.name}`} busy={roleAction.busy} onConfirm={() => deleteRole(r)} />] : []),
  ]);

  return (
    <>
      <section aria-labelledby="members-heading">
        <h2 id="members-heading">Members of {tenant.name}</h2>
        <Notice kind="error">{members.error || memberAction.error}</Notice>
        <Notice kind="success">{memberAction.success}</Notice>
        {members.data && 'refused' in members.data ? (
          <Notice kind="info">
            Only the owner of {tenant.name} or a member holding its <code>admin</code> role can see and manage its members. (
            {members.data.refused})
          </Notice>
        ) : members.loading && !members.data ? (
          <p className="loading">Loading…</p>
        ) : (
          <>
            <Table caption={`People in ${tenant.name} and their roles`} headers={['E-mail', 'Roles', 'Actions']} rows={memberRows} empty="No members yet." />
            <FormCard heading="Add a member" submit="Add member" busy={memberAction.busy} onSubmit={addMember}>
              <div className="row">
                <Field
                  label="Member e-mail"
                  type="email"
                  name="member_email"
                  hint="The person must already have an account. Only the tenant's owner can add members."
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  autoComplete="off"
                />
              </div>
            </FormCard>
          </>
        )}
      </section>

      <section aria-labelledby="roles-heading">
        <h2 id="roles-heading">Roles in {tenant.name}</h2>
        <Notice kind="error">{roles.error || roleAction.error}</Notice>
        <Notice kind="success">{roleAction.success}</Notice>
        {(roles.loading && !roles.data) || !members.data ? (
          <p className="loading">Loading…</p>
        ) : (
          <Table
            caption={manager ? `Roles in ${tenant.name} and how many members hold each` : `Your roles in ${tenant.name}`}
            headers={manager ? ['Role', 'Members', 'Actions'] : ['Role', 'Members']}
            rows={roleRows}
            empty={manager ? `${tenant.name} has no roles yet.` : `You hold no roles in ${tenant.name}.`}
          />
        )}
        {manager ? (
          <div className="adm-split">
            <FormCard heading="Create a role" submit="Create role" busy={roleAction.busy} onSubmit={createRole}>
              <Field
                label="Role name"
                name="role_name"
                maxLength={255}
                hint="Only the tenant's owner can create roles. Members with a role named admin can manage members."
                value={roleName}
                onChange={(e) => setRoleName(e.target.value)}
                autoComplete="off"
              />
            </FormCard>
            {memberList && memberList.length > 0 && roleList.length > 0 ? (
              <FormCard heading="Assign a role" submit="Assign role" busy={roleAction.busy} onSubmit={assign}>
                <Select label="Member to assign" value={assignUser} onChange={setAssignUser}>
                  <option value="">Choose a member</option>
                  {memberList.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.email}
                    </option>
                  ))}
                </Select>
                <Select label="Role to assign" value={assignRole} onChange={setAssignRole}>
                  <option value="">Choose a role</option>
                  {roleList.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.name}
                    </option>
                  ))}
                </Select>
              </FormCard>
            ) : null}
          </div>
        ) : null}
      </section>
    </>
  );
}

type Target = 'user' | 'role' | 'tenant';

/** Sharing datasets of the active space, and who holds what on one of them. */
function Sharing({ tenant, roles: roleList }: { tenant: TenantRef | null; roles: Role[] }) {
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

  const holders = useLoad(
    () => (inspectId ? guarded(() => datasetPrincipals(inspectId)) : Promise.resolve(undefined)),
    [inspectId],
  );

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
      for (const permission of permissions) {
        await changeDatasetPermission(action_, principalId, permission, [dataset.id]);
      }
      if (inspectId === dataset.id) await holders.reload();
      else setInspectId(dataset.id);
      const names = permissions.join(', ');
      return action_ === 'grant' ? `Granted ${names} on ${dataset.name} to ${who}.` : `Revoked ${names} on ${dataset.name} from ${who}.`;
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
                  <input type="radio" name={`${groupId}-target`} value="tenant" checked={target === 'tenant'} onChange={() => setTarget('tenant')} />{' '}
                  Everyone in the tenant
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
