import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * D23: a share to a user outside the dataset's tenant (any share of a personal dataset to another
 * user) is a pending offer that grants nothing until the recipient accepts it; the recipient can
 * decline an offer and drop any share received as a user. Search and recall without a dataset
 * filter, and the dataset listing, cover what the caller owns or accepted. Shares to tenants and
 * roles, and to members of the dataset's tenant, take effect at once.
 */
const SECRET_WORD = 'quetzalcoatlus';
const DOC = `The ${SECRET_WORD} is the largest flying animal ever found. Ada Lovelace wrote about the Analytical Engine.`;

interface Received {
  dataset_id: string;
  dataset_name: string;
  tenant_id: string | null;
  owner_email: string | null;
  permissions: string[];
  status: 'pending' | 'accepted';
  since: string;
}

describe('D23: shares from outside the recipient’s tenants wait for acceptance', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { RECALL_WARMUP_SHORTCIRCUIT: 'false' } });
  });
  after(() => server.close());

  const actor = (prefix: string) => signUpActor(server, prefix);
  const share = (a: Actor, principal: string, permission: string, ids: string[]) =>
    a.c.post(`/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: ids, ...asActor(a) });
  const received = async (a: Actor) => {
    const res = await a.c.get<Received[]>('/api/v1/permissions/shares/received', asActor(a));
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const accept = (a: Actor, id: string) => a.c.post(`/api/v1/permissions/shares/received/${id}/accept`, asActor(a));
  const decline = (a: Actor, id: string) => a.c.post(`/api/v1/permissions/shares/received/${id}/decline`, asActor(a));
  const drop = (a: Actor, id: string) => a.c.delete(`/api/v1/permissions/shares/received/${id}`, asActor(a));
  const listed = async (a: Actor) => ((await a.c.get('/api/v1/datasets', asActor(a))).body as { id: string }[]).map((d) => d.id);
  const newTenant = async (a: Actor, name: string) => (await a.c.post(`/api/v1/permissions/tenants?tenant_name=${name}`, asActor(a))).body.tenant_id as string;
  const dataset = async (a: Actor, name: string) => (await a.c.post('/api/v1/datasets', { json: { name }, ...asActor(a) })).body as { id: string };

  /** A cognified dataset holding DOC, owned by `a` in its active tenant. */
  const memoryOf = async (a: Actor, name: string) => {
    const added = await a.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: name }, ...asActor(a) });
    assert.equal(added.status, 200, added.text);
    const id = added.body.dataset_id as string;
    const cognified = await a.c.post('/api/v1/cognify', { json: { datasetIds: [id] }, ...asActor(a) });
    assert.equal(cognified.status, 200, cognified.text);
    return id;
  };
  const searchUnfiltered = (a: Actor) => a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: SECRET_WORD, topK: 20 }, ...asActor(a) });
  const searchById = (a: Actor, id: string) =>
    a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: SECRET_WORD, topK: 20, datasetIds: [id] }, ...asActor(a) });
  const recallUnfiltered = (a: Actor) => a.c.post('/api/v1/recall', { json: { query: `What is the ${SECRET_WORD}?`, onlyContext: true }, ...asActor(a) });
  const recallById = (a: Actor, id: string) =>
    a.c.post('/api/v1/recall', { json: { query: `What is the ${SECRET_WORD}?`, onlyContext: true, datasetIds: [id] }, ...asActor(a) });

  /** Asserts that `b` gets nothing of dataset `id` by any route, and that unfiltered retrieval does not mention it. */
  const grantsNothing = async (b: Actor, id: string, why: string) => {
    assert.ok(!(await listed(b)).includes(id), `${why}: not listed`);
    assert.equal((await b.c.get(`/api/v1/datasets/${id}/data`, asActor(b))).status, 403, `${why}: items refused`);
    const unfiltered = await searchUnfiltered(b);
    assert.equal(unfiltered.status, 200, unfiltered.text);
    assert.ok(!unfiltered.text.includes(SECRET_WORD) && !unfiltered.text.includes(id), `${why}: unfiltered search does not reach it`);
    assert.equal((await searchById(b, id)).status, 403, `${why}: search by id refused`);
    const recalled = await recallUnfiltered(b);
    assert.ok(!recalled.text.includes(SECRET_WORD) && !recalled.text.includes(id), `${why}: unfiltered recall does not reach it`);
    assert.equal((await recallById(b, id)).status, 403, `${why}: recall by id refused`);
    for (const permission of ['write', 'delete', 'share']) {
      const theirs = (await b.c.get(`/api/v1/permissions/principals/${b.id}/datasets?permission_name=${permission}`, asActor(b))).body as { id: string }[];
      assert.ok(!theirs.some((d) => d.id === id), `${why}: no ${permission} in the principal's datasets`);
    }
    assert.equal((await b.c.delete(`/api/v1/datasets/${id}`, asActor(b))).status, 403, `${why}: no delete`);
  };
  const reaches = async (b: Actor, id: string, why: string) => {
    assert.ok((await listed(b)).includes(id), `${why}: listed`);
    assert.equal((await b.c.get(`/api/v1/datasets/${id}/data`, asActor(b))).status, 200, `${why}: items readable`);
    const unfiltered = await searchUnfiltered(b);
    assert.ok(unfiltered.text.includes(SECRET_WORD), `${why}: unfiltered search reaches it: ${unfiltered.text}`);
    const byId = await searchById(b, id);
    assert.equal(byId.status, 200, byId.text);
    assert.ok(byId.text.includes(SECRET_WORD), `${why}: search by id`);
    const recalled = await recallUnfiltered(b);
    assert.ok(recalled.text.includes(SECRET_WORD), `${why}: unfiltered recall reaches it: ${recalled.text}`);
    assert.equal((await recallById(b, id)).status, 200, `${why}: recall by id`);
  };

  it('an outside share grants nothing until accepted, then everything granted; the sharing answer keeps its shape', async () => {
    const a = await actor('offer-owner');
    const b = await actor('offer-recipient');
    const id = await memoryOf(a, 'offered');
    const shared = await share(a, b.id, 'read', [id]);
    assert.equal(shared.status, 200, shared.text);
    assert.equal(shared.body.message, 'Permission assigned to principal', 'the reference field is kept');
    assert.deepEqual(shared.body.pending_dataset_ids, [id], 'and the answer says the share waits for acceptance');
    assert.equal((await share(a, b.id, 'write', [id])).status, 200);
    assert.equal((await share(a, b.id, 'share', [id])).status, 200);
    await grantsNothing(b, id, 'pending');
    const third = await actor('offer-third');
    const reshared = await share(b, third.id, 'read', [id]);
    assert.deepEqual(
      [reshared.status, reshared.body],
      [403, { detail: 'Request owner does not have necessary permission: [share] for all datasets requested. [PermissionDeniedError]' }],
      'an offered share cannot be passed on',
    );

    const offers = await received(b);
    assert.equal(offers.length, 1);
    assert.deepEqual(
      { ...offers[0], since: undefined },
      {
        dataset_id: id,
        dataset_name: 'offered',
        tenant_id: null,
        owner_email: a.email,
        permissions: ['read', 'write', 'share'],
        status: 'pending',
        since: undefined,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(offers[0]!.since)), 'since is a timestamp');
    const holders = (await a.c.get(`/api/v1/permissions/datasets/${id}/principals`, asActor(a))).body as { principal_id: string; permissions: string[] }[];
    const pendingHolder = holders.find((h) => h.principal_id === b.id);
    assert.deepEqual(
      [pendingHolder?.permissions, (pendingHolder as any)?.pending_permissions],
      [[], ['read', 'write', 'share']],
      'the sharer sees the pending offer',
    );

    const accepted = await accept(b, id);
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual(accepted.body, { message: 'Share accepted.', dataset_id: id, permissions: ['read', 'write', 'share'] });
    await reaches(b, id, 'accepted');
    assert.deepEqual(
      (await received(b)).map((r) => [r.dataset_id, r.status, r.permissions]),
      [[id, 'accepted', ['read', 'write', 'share']]],
    );
    assert.equal((await accept(b, id)).status, 200, 'accepting again changes nothing');
    // Acceptance is per dataset: a further permission on an accepted dataset takes effect at once.
    const more = await share(a, b.id, 'delete', [id]);
    assert.deepEqual(more.body, { message: 'Permission assigned to principal' });
    assert.deepEqual((await received(b))[0]!.permissions, ['read', 'write', 'delete', 'share']);
    // What was accepted can be passed on (to a user outside, again as an offer).
    const passed = await share(b, third.id, 'read', [id]);
    assert.deepEqual([passed.status, passed.body.pending_dataset_ids], [200, [id]]);
  });

  it('declining removes the offer; the sharer may offer again; a revoke withdraws an offer', async () => {
    const a = await actor('decline-owner');
    const b = await actor('decline-recipient');
    const id = await memoryOf(a, 'declined');
    await share(a, b.id, 'read', [id]);
    const declined = await decline(b, id);
    assert.deepEqual([declined.status, declined.body], [200, { message: 'Share declined.', dataset_id: id }]);
    assert.deepEqual(await received(b), []);
    await grantsNothing(b, id, 'declined');
    assert.equal((await accept(b, id)).status, 404, 'nothing left to accept');

    await share(a, b.id, 'read', [id]);
    assert.equal((await received(b)).length, 1, 'offered again');
    const revoked = await a.c.delete(`/api/v1/permissions/datasets/${b.id}?permission_name=read`, { json: [id], ...asActor(a) });
    assert.equal(revoked.status, 200);
    assert.deepEqual(await received(b), [], 'the revoke withdrew the offer');
    assert.equal((await accept(b, id)).status, 404);
    await grantsNothing(b, id, 'withdrawn');
  });

  it('dropping removes an accepted share: the dataset leaves unfiltered search and recall', async () => {
    const a = await actor('drop-owner');
    const b = await actor('drop-recipient');
    const id = await memoryOf(a, 'dropped');
    await share(a, b.id, 'read', [id]);
    assert.equal((await accept(b, id)).status, 200);
    await reaches(b, id, 'accepted');
    const dropped = await drop(b, id);
    assert.deepEqual([dropped.status, dropped.body], [200, { message: 'Share removed.', dataset_id: id }]);
    await grantsNothing(b, id, 'dropped');
    assert.deepEqual(await received(b), []);
    assert.equal((await drop(b, id)).status, 404, 'nothing left to drop');
    await reaches(a, id, 'the owner keeps it');
    // A pending offer can be dropped too.
    await share(a, b.id, 'read', [id]);
    assert.equal((await drop(b, id)).status, 200);
    assert.deepEqual(await received(b), []);
  });

  it('a share to a member of the dataset’s tenant takes effect at once; the member may still drop it', async () => {
    const a = await actor('tenant-owner');
    const b = await actor('tenant-member');
    const tenantId = await newTenant(a, 'acceptance-org');
    assert.equal((await a.c.post(`/api/v1/permissions/users/${b.id}/tenants?tenant_id=${tenantId}`, asActor(a))).status, 200);
    const id = await memoryOf(a, 'team-notes');
    const shared = await share(a, b.id, 'read', [id]);
    assert.deepEqual([shared.status, shared.body], [200, { message: 'Permission assigned to principal' }], 'no pending field: nothing waits');
    await b.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(b) });
    await reaches(b, id, 'in-tenant');
    const mine = await received(b);
    assert.deepEqual(
      mine.map((r) => [r.dataset_id, r.tenant_id, r.status, r.permissions, r.owner_email]),
      [[id, tenantId, 'accepted', ['read'], a.email]],
    );
    assert.equal((await drop(b, id)).status, 200, 'an in-tenant share can be dropped');
    await grantsNothing(b, id, 'dropped in-tenant share');
  });

  it('a share to a tenant or a role takes effect at once, and dropping never touches it', async () => {
    const a = await actor('group-owner');
    const b = await actor('group-member');
    const tenantId = await newTenant(a, 'group-org');
    assert.equal((await a.c.post(`/api/v1/permissions/users/${b.id}/tenants?tenant_id=${tenantId}`, asActor(a))).status, 200);
    await b.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(b) });
    const viaTenant = await memoryOf(a, 'tenant-wide');
    assert.deepEqual((await share(a, tenantId, 'read', [viaTenant])).body, { message: 'Permission assigned to principal' });
    await reaches(b, viaTenant, 'tenant grant');
    const roleId = (await a.c.post('/api/v1/permissions/roles?role_name=readers', asActor(a))).body.role_id as string;
    assert.equal((await a.c.post(`/api/v1/permissions/users/${b.id}/roles?role_id=${roleId}`, asActor(a))).status, 200);
    const viaRole = await dataset(a, 'role-wide');
    assert.deepEqual((await share(a, roleId, 'read', [viaRole.id])).body, { message: 'Permission assigned to principal' });
    assert.ok((await listed(b)).includes(viaRole.id), 'role grant at once');
    assert.deepEqual(await received(b), [], 'grants to groups are not shares received as a user');
    assert.equal((await drop(b, viaTenant)).status, 404, 'a tenant grant cannot be dropped by a member');
    assert.equal((await drop(b, viaRole.id)).status, 404, 'nor a role grant');
    await reaches(b, viaTenant, 'still reached through the tenant');
    assert.ok((await listed(b)).includes(viaRole.id), 'still reached through the role');
  });

  it('nobody can accept, decline or drop what was not offered to them: the same 404 for unknown and foreign datasets', async () => {
    const a = await actor('foreign-owner');
    const b = await actor('foreign-recipient');
    const c = await actor('foreign-bystander');
    const id = await memoryOf(a, 'foreign');
    await share(a, b.id, 'read', [id]);
    const ghost = randomUUID();
    const answers = [];
    for (const target of [id, ghost]) {
      for (const act of [accept, decline, drop]) answers.push(await act(c, target));
    }
    for (const res of answers) assert.equal(res.status, 404, res.text);
    const bodies = answers.map((r) => JSON.stringify(r.body).replace(id, '<id>').replace(ghost, '<id>'));
    assert.equal(new Set(bodies).size, 1, `one answer for every case: ${bodies.join(' ')}`);
    assert.match(answers[0]!.body.detail, /\[EntityNotFoundError\]$/);
    await grantsNothing(c, id, 'bystander');
    assert.equal((await received(b))[0]?.status, 'pending', 'the bystander changed nothing of the offer');
    // Malformed ids: the validation envelope every route answers (400, as the other path UUIDs).
    for (const res of [
      await b.c.post('/api/v1/permissions/shares/received/not-a-uuid/accept', asActor(b)),
      await b.c.post('/api/v1/permissions/shares/received/not-a-uuid/decline', asActor(b)),
      await b.c.delete('/api/v1/permissions/shares/received/not-a-uuid', asActor(b)),
    ]) {
      assert.deepEqual(
        [res.status, res.body],
        [400, { detail: [{ type: 'invalid_format', loc: ['path', 'dataset_id'], msg: 'Input should be a valid UUID' }], body: null }],
      );
    }
    assert.equal((await server.client().get('/api/v1/permissions/shares/received')).status, 401);
  });

  it('the owner cannot drop their own dataset; acceptance is per recipient', async () => {
    const a = await actor('own-owner');
    const b = await actor('own-first');
    const c = await actor('own-second');
    const id = await memoryOf(a, 'own');
    const ownDrop = await drop(a, id);
    assert.deepEqual(
      [ownDrop.status, ownDrop.body],
      [400, { detail: 'You own this dataset: delete it, or make another user its owner, instead of dropping it. [CogneeValidationError]' }],
    );
    await reaches(a, id, 'the owner keeps it');
    assert.equal((await accept(a, id)).status, 404, 'an owner has nothing offered');

    await share(a, b.id, 'read', [id]);
    await share(a, c.id, 'read', [id]);
    assert.equal((await accept(b, id)).status, 200);
    await reaches(b, id, 'b accepted');
    await grantsNothing(c, id, 'c did not');
    assert.equal((await received(c))[0]?.status, 'pending');
    assert.equal((await decline(c, id)).status, 200);
    await reaches(b, id, 'c declining leaves b alone');
  });
});
