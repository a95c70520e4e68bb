import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acceptPending, asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Removing content purges the search history that could quote it, every user's (`GET
 * /api/v1/search` answers the caller's queries and answers):
 *   - deleting an item purges the queries that searched its dataset since the item was added,
 *     the owner's and those of a user the dataset was shared with; a query of another dataset stays;
 *   - forgetting a dataset's memory (`POST /api/v1/forget` with `memory_only`) purges every query of it;
 *   - deleting a dataset purges every query of it, a search over it and another dataset included.
 * In multi-tenant mode; on SQLite and PostgreSQL (ENGRAM_TEST_DB).
 */

const SECRET = 'Zanzibarquux';
const DOC = `The vault code word is ${SECRET}. Ada Lovelace kept it in London.`;
const OTHER = 'Charles Babbage designed the Analytical Engine in London.';

describe('search history is purged with the content it could quote', () => {
  let server: TestServer;
  let owner: Actor;
  let reader: Actor;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
    owner = await signUpActor(server, 'history-owner');
    reader = await signUpActor(server, 'history-reader');
  });
  after(async () => {
    await server.close();
  });

  async function dataset(name: string, text: string): Promise<{ id: string; dataId: string }> {
    const added = await owner.c.post('/api/v1/add_text', { json: { textData: [text], datasetName: name }, ...asActor(owner) });
    assert.equal(added.status, 200, added.text);
    const cognified = await owner.c.post('/api/v1/cognify', { json: { datasetIds: [added.body.dataset_id] }, ...asActor(owner) });
    assert.equal(cognified.status, 200, cognified.text);
    const items = await owner.c.get(`/api/v1/datasets/${added.body.dataset_id}/data`, asActor(owner));
    return { id: added.body.dataset_id, dataId: items.body[0].id };
  }

  async function search(a: Actor, datasetIds: string[], query: string): Promise<void> {
    const res = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query, datasetIds }, ...asActor(a) });
    assert.equal(res.status, 200, res.text);
  }

  async function history(a: Actor): Promise<string> {
    const res = await a.c.get('/api/v1/search', asActor(a));
    assert.equal(res.status, 200, res.text);
    return JSON.stringify(res.body);
  }

  async function share(datasetId: string, with_: Actor): Promise<void> {
    const res = await owner.c.post(`/api/v1/permissions/datasets/${with_.id}?permission_name=read`, { json: [datasetId], ...asActor(owner) });
    assert.equal(res.status, 200, res.text);
    await acceptPending(with_, res); // D23: an outside share waits for the recipient's acceptance
  }

  it('deleting an item purges every user’s queries of its dataset since it was added; other queries stay', async () => {
    const secret = await dataset('vault', DOC);
    const other = await dataset('engines', OTHER);
    await share(secret.id, reader);
    await search(owner, [secret.id], 'vault code word');
    await search(owner, [secret.id, other.id], 'code word');
    await search(reader, [secret.id], 'what is the code word');
    await search(owner, [other.id], 'Analytical Engine');
    for (const a of [owner, reader]) assert.match(await history(a), new RegExp(SECRET), 'the answers quote the item');

    const deleted = await owner.c.delete(`/api/v1/datasets/${secret.id}/data/${secret.dataId}`, asActor(owner));
    assert.equal(deleted.status, 200, deleted.text);

    for (const a of [owner, reader]) {
      const left = await history(a);
      assert.doesNotMatch(left, new RegExp(SECRET));
      assert.doesNotMatch(left, /code word/, 'the queries go with their answers');
    }
    assert.match(await history(owner), /Analytical Engine/, 'a query of another dataset stays');
  });

  it('forgetting a dataset’s memory and deleting a dataset purge every query of it', async () => {
    const forgotten = await dataset('forgotten', DOC);
    const removed = await dataset('removed', DOC.replace('vault', 'safe'));
    const kept = await dataset('kept', OTHER);
    await share(forgotten.id, reader);
    await search(reader, [forgotten.id], 'vault word');
    await search(owner, [forgotten.id], 'vault word');
    await search(owner, [removed.id, kept.id], 'safe word');
    await search(owner, [kept.id], 'Babbage designed');
    assert.match(await history(reader), new RegExp(SECRET));

    const forget = await owner.c.post('/api/v1/forget', { json: { dataset_id: forgotten.id, memory_only: true }, ...asActor(owner) });
    assert.equal(forget.status, 200, forget.text);
    assert.doesNotMatch(await history(reader), /vault word/);
    assert.doesNotMatch(await history(owner), /vault word/);
    assert.match(await history(owner), /safe word/, 'only the forgotten dataset’s queries are purged');

    const gone = await owner.c.delete(`/api/v1/datasets/${removed.id}`, asActor(owner));
    assert.equal(gone.status, 200, gone.text);
    const left = await history(owner);
    assert.doesNotMatch(left, new RegExp(SECRET));
    assert.doesNotMatch(left, /safe word/, 'a search over the deleted dataset and another one is purged too');
    assert.match(left, /Babbage designed/);
  });
});
