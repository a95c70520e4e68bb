import { useState, type FormEvent, type ReactNode } from 'react';
import {
  addUserToRole,
  addUserToTenant,
  createRole as createRoleOnServer,
  createTenant,
  deleteRole as deleteRoleOnServer,
  myTenants,
  removeUserFromRole,
  removeUserFromTenant,
  selectTenant,
  tenantRoles,
  tenantUsers,
  type Member,
  type Role,
  type RoleRef,
  type TenantRef,
} from '../api/permissions';
import { userIdOf } from '../api/users';
import { Button, ConfirmButton, Field, FormCard, Notice, Page, Table, useAction, useLoad } from '../components';
import { useSession } from '../session';
import { guarded, Select } from './tenantParts';
import { Sharing } from './TenantSharing';

/** Tenants, their members and roles, and dataset sharing (api/permissions; the sharing section is TenantSharing.tsx). */

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
        You are working in <strong>{active ? `the tenant ${active.name}` : 'your personal space'}</strong>. Datasets belong to the tenant that was active when
        they were created; switching changes which datasets you see everywhere in the app.
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
    m.id === selfId ? (
      <span className="empty">You</span>
    ) : (
      <ConfirmButton label="Remove" name={`Remove member ${m.email}`} busy={memberAction.busy} onConfirm={() => removeMember(m)} />
    ),
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
            Only the owner of {tenant.name} or a member holding its <code>admin</code> role can see and manage its members. ({members.data.refused})
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
