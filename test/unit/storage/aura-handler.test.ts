import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { AURA_CREDENTIALS_MISSING, auraHandler } from '../../../src/storage/datasets/aura.js';
import type { DatasetDatabaseRow } from '../../../src/storage/datasets/types.js';
import { FernetKeyring } from '../../../src/storage/fernet.js';
import { startAuraStandIn, type AuraStandIn } from '../../helpers/aura-standin.js';

/**
 * The neo4j_aura_dev handler against a stand-in of the Aura API on loopback: OAuth client
 * credentials, instance creation, polling until running, deletion by the instance id in the URL,
 * and the stored row holding Fernet tokens only (D20), readable under a rotated key list.
 */

describe('neo4j_aura_dev dataset database handler (Aura API stand-in)', () => {
  let aura: AuraStandIn;
  let base = '';
  before(async () => {
    aura = await startAuraStandIn({
      instance: () => ({ id: 'ab12cd34', connection_url: 'neo4j+s://ab12cd34.databases.neo4j.io', username: 'neo4j', password: 'instance-password-xyz' }),
    });
    base = aura.url;
  });
  after(() => aura.close());
  const config = (extra: Record<string, string> = {}) =>
    loadConfig({ NEO4J_AURA_API_URL: base, NEO4J_AURA_POLL_INTERVAL_MS: '5', NEO4J_ENCRYPTION_KEY: 'new-key,old-key', ...extra }, process.cwd());
  const withCredentials = { NEO4J_CLIENT_ID: 'client-id', NEO4J_CLIENT_SECRET: 'client-secret', NEO4J_TENANT_ID: 'tenant-1' };
  const dataset = { id: '33333333-3333-4333-8333-333333333333', ownerId: '44444444-4444-4444-8444-444444444444' };

  it('refuses to provision without the Aura credentials, with the reference message', async () => {
    const handler = auraHandler(config(), FernetKeyring.fromSecrets('k'));
    await assert.rejects(handler.createDataset(dataset), (e: Error) => e.message === AURA_CREDENTIALS_MISSING);
  });

  it('provisions, stores only Fernet tokens, resolves, and deletes the instance', async () => {
    const keyring = FernetKeyring.fromSecrets('new-key,old-key');
    const handler = auraHandler(config(withCredentials), keyring);
    const columns = await handler.createDataset(dataset);
    const created = aura.seen.find((s) => s.method === 'POST' && s.path === '/v1/instances')!;
    assert.deepEqual(JSON.parse(created.body), {
      version: '5',
      region: 'europe-west1',
      memory: '1GB',
      name: dataset.id.slice(0, 29),
      type: 'professional-db',
      tenant_id: 'tenant-1',
      cloud_provider: 'gcp',
    });
    assert.ok(aura.polls() >= 2, 'polled until running');
    assert.equal(columns.graph_database_url, 'neo4j+s://ab12cd34.databases.neo4j.io');
    const stored = JSON.stringify(columns);
    assert.ok(!stored.includes('instance-password-xyz'), 'no plaintext password');
    assert.ok(!stored.includes('aura-access-token'), 'no plaintext access token');
    const info = JSON.parse(columns.graph_database_connection_info!);
    assert.match(info.graph_database_password, /^gAAAAA/);

    const row = {
      dataset_id: dataset.id,
      owner_id: dataset.ownerId,
      graph_database_connection_info: '{}',
      vector_database_connection_info: '{}',
      ...columns,
    } as DatasetDatabaseRow;
    const resolved = await handler.resolve(row);
    assert.equal(JSON.parse(resolved.graph_database_connection_info).graph_database_password, 'instance-password-xyz');
    assert.equal(resolved.graph_database_key, 'aura-access-token');
    assert.notEqual(row.graph_database_connection_info, resolved.graph_database_connection_info, 'the stored row is not changed');

    // Rotation: the first key of the list encrypts, so only a keyring holding the new key reads the row.
    assert.throws(() => FernetKeyring.fromSecrets('old-key').decrypt(info.graph_database_password));
    assert.equal(FernetKeyring.fromSecrets('new-key').decrypt(info.graph_database_password), 'instance-password-xyz');

    // A row as the reference writes it (plaintext access token, password under the old key) is read too.
    const legacy = {
      ...row,
      graph_database_key: 'aura-access-token',
      graph_database_connection_info: JSON.stringify({
        graph_database_username: 'neo4j',
        graph_database_password: FernetKeyring.fromSecrets('old-key').encrypt('legacy-pass'),
      }),
    };
    const legacyResolved = await handler.resolve(legacy);
    assert.equal(JSON.parse(legacyResolved.graph_database_connection_info).graph_database_password, 'legacy-pass');
    assert.equal(legacyResolved.graph_database_key, 'aura-access-token');

    await handler.deleteDataset(resolved);
    assert.ok(aura.seen.some((s) => s.method === 'DELETE' && s.path === '/v1/instances/ab12cd34' && s.auth === 'Bearer aura-access-token'));
  });

  it('neo4j starts with its handler (multi-tenant) or a URL (single-user); wrong pairs and a missing URL are clear startup errors', async () => {
    const { DatasetDatabases } = await import('../../../src/storage/datasets/pool.js');
    const multiTenant = DatasetDatabases.create(config({ GRAPH_DATABASE_PROVIDER: 'neo4j' }), undefined as never, undefined);
    assert.equal(multiTenant.multiTenant, true);
    assert.equal(multiTenant.registry.get(config({ GRAPH_DATABASE_PROVIDER: 'neo4j' }).memory.graphHandler)?.name, 'neo4j_aura_dev');
    assert.throws(() => config({ GRAPH_DATABASE_PROVIDER: 'neo4j', ENABLE_BACKEND_ACCESS_CONTROL: 'false' }), /GRAPH_DATABASE_URL/);
    assert.throws(
      () => config({ GRAPH_DATABASE_PROVIDER: 'neo4j', ENABLE_BACKEND_ACCESS_CONTROL: 'false', GRAPH_DATABASE_URL: 'http://x:7474' }),
      /GRAPH_DATABASE_URL: expected a bolt/,
    );
    const single = config({
      GRAPH_DATABASE_PROVIDER: 'neo4j',
      ENABLE_BACKEND_ACCESS_CONTROL: 'false',
      GRAPH_DATABASE_URL: 'bolt://127.0.0.1:7687',
      GRAPH_DATABASE_PASSWORD: 'pw',
    });
    assert.deepEqual(single.memory.neo4j, { url: 'bolt://127.0.0.1:7687', username: 'neo4j', password: 'pw' });
    assert.equal(DatasetDatabases.create(single, undefined as never, undefined).multiTenant, false);
    assert.throws(
      () => DatasetDatabases.create(config({ GRAPH_DATABASE_PROVIDER: 'neo4j', GRAPH_DATASET_DATABASE_HANDLER: 'kuzu' }), undefined as never, undefined),
      /GRAPH_DATASET_DATABASE_HANDLER: handler "kuzu" cannot serve GRAPH_DATABASE_PROVIDER=neo4j/,
    );
    assert.throws(
      () => DatasetDatabases.create(config({ GRAPH_DATASET_DATABASE_HANDLER: 'neo4j_aura_dev' }), undefined as never, undefined),
      /handler "neo4j_aura_dev" cannot serve GRAPH_DATABASE_PROVIDER=kuzu/,
    );
    assert.throws(
      () => DatasetDatabases.create(config({ GRAPH_DATASET_DATABASE_HANDLER: 'lancedb' }), undefined as never, undefined),
      /GRAPH_DATASET_DATABASE_HANDLER: unknown graph dataset database handler/,
    );
    assert.throws(
      () =>
        DatasetDatabases.create(
          config({ VECTOR_DATASET_DATABASE_HANDLER: 'lancedb', VECTOR_DB_PROVIDER: 'pgvector', VECTOR_DB_HOST: '127.0.0.1' }),
          undefined as never,
          undefined,
        ),
      /cannot serve VECTOR_DB_PROVIDER=pgvector/,
    );
  });
});
