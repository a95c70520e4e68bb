import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startOpenAIStub, type OpenAIStub, type StubRequest } from '../helpers/openai-stub.js';
import { asActor, eventually, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Per-user limits: one user's cognify runs, model calls and stored bytes cannot take the server
 * from the others. The stand-in model holds calls open per marker word, so the test sees which
 * runs and how many calls are in flight; nothing is timed.
 */

const MARKERS = ['Alphaq', 'Betaq', 'Gammaq', 'Deltaq', 'Epsq', 'Zetaq', 'Etaq'] as const;
type Marker = (typeof MARKERS)[number];
/** Generous patience for the server to reach a state (never a bound on its speed). */
const PATIENCE_MS = 120_000;

const doc = (marker: Marker, sentences = 1) =>
  Array.from({ length: sentences }, (_, i) => `${marker} note number ${i} about ${marker} and the harbour.`).join(' ');

describe('per-user quotas', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  const gates = new Map<Marker, { open: Promise<void>; release: () => void }>();
  /** Calls in flight and the most seen at once, per marker. */
  const inFlight = new Map<Marker, number>();
  const maxInFlight = new Map<Marker, number>();

  for (const marker of MARKERS) {
    let release!: () => void;
    const open = new Promise<void>((r) => (release = r));
    gates.set(marker, { open, release });
  }
  const markerOf = (request: StubRequest): Marker | undefined => {
    const text = JSON.stringify(request.body ?? '');
    return MARKERS.find((m) => text.includes(m));
  };
  const held = (request: StubRequest) => {
    const marker = markerOf(request);
    if (!marker) return undefined;
    const now = (inFlight.get(marker) ?? 0) + 1;
    inFlight.set(marker, now);
    maxInFlight.set(marker, Math.max(now, maxInFlight.get(marker) ?? 0));
    return { hold: gates.get(marker)!.open.then(() => void inFlight.set(marker, inFlight.get(marker)! - 1)) };
  };
  const seen = (marker: Marker) => stub.requests.some((r) => markerOf(r) === marker);
  const waitFor = (check: () => boolean) => eventually(async () => check(), PATIENCE_MS, 25);

  before(async () => {
    stub = await startOpenAIStub({ chat: (_b, r) => held(r), embeddings: (_b, r) => held(r) });
    server = await startTestServer({
      env: {
        LLM_ENDPOINT: stub.url,
        LLM_API_KEY: 'stub-key',
        LLM_MODEL: 'stub-model',
        EMBEDDING_DIMENSIONS: '64',
        JOB_CONCURRENCY: '1',
        JOB_POLL_SECONDS: '1',
        CHUNK_SIZE: '16',
        CHUNKS_PER_BATCH: '8',
        USER_MAX_CONCURRENT_RUNS: '1',
        USER_MAX_CONCURRENT_LLM_CALLS: '2',
        USER_MAX_STORAGE_BYTES: '4000',
        USER_MAX_ITEMS: '3',
      },
    });
  });

  after(async () => {
    for (const gate of gates.values()) gate.release();
    await server?.engram.memory.idle();
    await server?.close();
    await stub?.close();
  });

  async function dataset(a: Actor, name: string, text: string): Promise<string> {
    const r = await a.c.post('/api/v1/add_text', { json: { textData: [text], datasetName: name }, ...asActor(a) });
    assert.equal(r.status, 200, r.text);
    return r.body.dataset_id;
  }
  const cognify = (a: Actor, id: string, background = false) =>
    a.c.post('/api/v1/cognify', { json: { datasetIds: [id], runInBackground: background }, ...asActor(a) });

  it("background runs are taken fairly: another user's run goes before a user's second queued run", async () => {
    const a = await signUpActor(server, 'fair-a');
    const b = await signUpActor(server, 'fair-b');
    const a1 = await dataset(a, 'a1', doc('Alphaq'));
    const a2 = await dataset(a, 'a2', doc('Betaq'));
    const b1 = await dataset(b, 'b1', doc('Gammaq'));
    assert.equal((await cognify(a, a1, true)).status, 200);
    await waitFor(() => seen('Alphaq'));
    assert.equal((await cognify(a, a2, true)).status, 200);
    assert.equal((await cognify(b, b1, true)).status, 200);
    // The one worker is busy with a1; once it ends, b's first run comes before a's second.
    gates.get('Alphaq')!.release();
    await waitFor(() => seen('Gammaq') || seen('Betaq'));
    assert.ok(seen('Gammaq') && !seen('Betaq'), "b's run was taken first");
    gates.get('Gammaq')!.release();
    gates.get('Betaq')!.release();
    await waitFor(() => seen('Betaq'));
  });

  it('a user runs at most USER_MAX_CONCURRENT_RUNS cognify runs at once; the next waits, another user is not held up', async () => {
    const a = await signUpActor(server, 'runs-a');
    const b = await signUpActor(server, 'runs-b');
    const first = await dataset(a, 'first', doc('Deltaq'));
    const second = await dataset(a, 'second', doc('Epsq'));
    const other = await dataset(b, 'other', doc('Zetaq'));
    const runs = [cognify(a, first)];
    await waitFor(() => seen('Deltaq'));
    runs.push(cognify(a, second));
    runs.push(cognify(b, other));
    await waitFor(() => seen('Zetaq'));
    assert.ok(!seen('Epsq'), "a's second run waits for the first");
    gates.get('Deltaq')!.release();
    gates.get('Zetaq')!.release();
    await waitFor(() => seen('Epsq'));
    gates.get('Epsq')!.release();
    for (const run of await Promise.all(runs)) assert.equal(run.status, 200, run.text);
  });

  it('a user has at most USER_MAX_CONCURRENT_LLM_CALLS model calls in flight; another user gets their own', async () => {
    const a = await signUpActor(server, 'calls-a');
    const b = await signUpActor(server, 'calls-b');
    const big = await dataset(a, 'big', doc('Etaq', 12)); // many chunks, 8 at once, two calls each
    const small = await dataset(b, 'small', doc('Alphaq'));
    const run = cognify(a, big);
    await waitFor(() => (inFlight.get('Etaq') ?? 0) >= 2);
    const before = stub.requests.filter((r) => markerOf(r) === 'Alphaq').length;
    const otherRun = cognify(b, small); // Alphaq's gate is open: b's calls are answered
    await waitFor(() => stub.requests.filter((r) => markerOf(r) === 'Alphaq').length > before);
    assert.equal(inFlight.get('Etaq'), 2, "a's other calls wait for a place");
    assert.equal((await otherRun).status, 200);
    gates.get('Etaq')!.release();
    assert.equal((await run).status, 200);
    assert.equal(maxInFlight.get('Etaq'), 2);
  });

  it('add, add_text and remember past USER_MAX_STORAGE_BYTES or USER_MAX_ITEMS answer 413 and store nothing', async () => {
    const q = await signUpActor(server, 'storage');
    const filesUnder = (dir: string): string[] =>
      existsSync(dir) ? readdirSync(dir).flatMap((n) => (lstatSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)])) : [];
    const ds = await dataset(q, 'quota', 'x'.repeat(1500));
    const listing = async () => (await q.c.get(`/api/v1/datasets/${ds}/data`, asActor(q))).body;
    const baseline = await listing();
    const files = filesUnder(join(server.root, 'data')).length;

    const tooBig = await upload(server, q, { datasetId: ds }, [{ name: 'big.txt', text: 'y'.repeat(3000) }]);
    assert.equal(tooBig.status, 413);
    assert.deepEqual(tooBig.body, {
      detail:
        'Storage quota exceeded: you store 1500 bytes and this request adds 3000; the limit is 4000 bytes per user (USER_MAX_STORAGE_BYTES). Nothing was stored.',
    });
    const viaText = await q.c.post('/api/v1/add_text', { json: { textData: ['z'.repeat(2600)], datasetId: ds }, ...asActor(q) });
    assert.equal(viaText.status, 413, viaText.text);
    const viaRemember = await upload(server, q, { datasetId: ds }, [{ name: 'r.txt', text: 'w'.repeat(2600) }], '/api/v1/remember');
    assert.equal(viaRemember.status, 413);
    assert.deepEqual(await listing(), baseline, 'no item was written');
    assert.equal(filesUnder(join(server.root, 'data')).length, files, 'no file was written');

    // Content the dataset holds already adds nothing: accepted at the edge.
    const again = await q.c.post('/api/v1/add_text', { json: { textData: ['x'.repeat(1500)], datasetId: ds }, ...asActor(q) });
    assert.equal(again.status, 200, again.text);

    // Items: three at most.
    for (const text of ['second item', 'third item']) {
      const r = await q.c.post('/api/v1/add_text', { json: { textData: [text], datasetId: ds }, ...asActor(q) });
      assert.equal(r.status, 200, r.text);
    }
    const fourth = await q.c.post('/api/v1/add_text', { json: { textData: ['fourth item'], datasetId: ds }, ...asActor(q) });
    assert.deepEqual(
      [fourth.status, fourth.body?.detail],
      [413, 'Item quota exceeded: you store 3 items and this request adds 1; the limit is 3 items per user (USER_MAX_ITEMS). Nothing was stored.'],
    );

    // Deleting an item frees its place; another user's quota is their own.
    const items = (await listing()) as { id: string }[];
    const removed = await q.c.delete(`/api/v1/datasets/${ds}/data/${items[2]!.id}`, asActor(q));
    assert.equal(removed.status, 200, removed.text);
    const afterDelete = await q.c.post('/api/v1/add_text', { json: { textData: ['fourth item'], datasetId: ds }, ...asActor(q) });
    assert.equal(afterDelete.status, 200, afterDelete.text);
    const other = await signUpActor(server, 'storage-other');
    assert.ok(await dataset(other, 'own', 'o'.repeat(3000)));
  });
});
