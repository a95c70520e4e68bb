import type { Config } from '../../config/index.js';
import { FernetKeyring, isFernetToken } from '../fernet.js';
import type { DatasetDatabaseHandler, DatasetDatabaseRow } from './types.js';

/**
 * `neo4j_aura_dev`: one Neo4j Aura instance per dataset, provisioned over the Aura API.
 *
 * The instance password is stored as a Fernet token under base64url(sha256(NEO4J_ENCRYPTION_KEY)),
 * byte-compatible with the reference (D20), so rows either side wrote decrypt on the other. Unlike
 * the reference, the Aura access token is encrypted too (no secret at rest in plaintext); a row
 * holding a plaintext token, as the reference writes it, is still read.
 */

export const AURA_CREDENTIALS_MISSING =
  'NEO4J_CLIENT_ID, NEO4J_CLIENT_SECRET, and NEO4J_TENANT_ID environment variables must be set to use Neo4j Aura DatasetDatabase Handling.';

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; json(): Promise<unknown> }>;

interface AuraInstance {
  id: string;
  connection_url?: string;
  username?: string;
  password?: string;
  status?: string;
}

export function auraHandler(config: Config, keyring: FernetKeyring, fetchImpl: FetchLike = fetch as unknown as FetchLike): DatasetDatabaseHandler {
  const aura = config.memory.aura;
  const base = aura.apiUrl.replace(/\/+$/, '');

  async function token(): Promise<string> {
    if (!aura.clientId || !aura.clientSecret || !aura.tenantId) throw new Error(AURA_CREDENTIALS_MISSING);
    const basic = Buffer.from(`${aura.clientId}:${aura.clientSecret}`).toString('base64');
    const response = await fetchImpl(`${base}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await response.json()) as { access_token?: string };
    if (response.status !== 200 || typeof body.access_token !== 'string') {
      throw new Error(`Aura API refused the client credentials (HTTP ${response.status})`);
    }
    return body.access_token;
  }

  async function api(method: string, path: string, accessToken: string, body?: unknown): Promise<{ status: number; data: AuraInstance | undefined }> {
    const response = await fetchImpl(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    let parsed: { data?: AuraInstance } = {};
    try {
      parsed = (await response.json()) as { data?: AuraInstance };
    } catch {
      parsed = {};
    }
    return { status: response.status, data: parsed.data };
  }

  const reveal = (value: string | null | undefined): string | null => {
    if (value === null || value === undefined) return null;
    return isFernetToken(value) ? keyring.decrypt(value) : value;
  };

  return {
    name: 'neo4j_aura_dev',
    kind: 'graph',
    providers: ['neo4j'],
    async createDataset(dataset) {
      const accessToken = await token();
      const created = await api('POST', '/v1/instances', accessToken, {
        version: '5',
        region: 'europe-west1',
        memory: '1GB',
        name: dataset.id.slice(0, 29),
        type: 'professional-db',
        tenant_id: aura.tenantId,
        cloud_provider: 'gcp',
      });
      const instance = created.data;
      if (created.status >= 300 || !instance?.id || !instance.password) {
        throw new Error(`Aura API did not create an instance (HTTP ${created.status})`);
      }
      let status = instance.status;
      for (let attempt = 0; status !== 'running'; attempt++) {
        if (attempt >= aura.pollAttempts) throw new Error(`Aura instance ${instance.id} was not running after ${aura.pollAttempts} checks`);
        await new Promise((r) => setTimeout(r, aura.pollIntervalMs));
        status = (await api('GET', `/v1/instances/${encodeURIComponent(instance.id)}`, accessToken)).data?.status;
      }
      return {
        graph_database_name: 'neo4j',
        graph_database_url: instance.connection_url ?? null,
        graph_database_provider: 'neo4j',
        graph_database_key: keyring.encrypt(accessToken),
        graph_dataset_database_handler: 'neo4j_aura_dev',
        graph_database_connection_info: JSON.stringify({
          graph_database_username: instance.username ?? 'neo4j',
          graph_database_password: keyring.encrypt(instance.password),
        }),
      };
    },
    async resolve(row: DatasetDatabaseRow) {
      const info = JSON.parse(row.graph_database_connection_info || '{}') as Record<string, unknown>;
      const password = typeof info.graph_database_password === 'string' ? reveal(info.graph_database_password) : null;
      return {
        ...row,
        graph_database_key: reveal(row.graph_database_key),
        graph_database_connection_info: JSON.stringify({ ...info, graph_database_password: password }),
      };
    },
    async deleteDataset(row) {
      if (!row.graph_database_url) return;
      const host = new URL(row.graph_database_url.replace(/^neo4j(\+s|\+ssc)?:/, 'http:')).hostname;
      const instanceId = host.split('.')[0]!;
      const result = await api('DELETE', `/v1/instances/${encodeURIComponent(instanceId)}`, await token());
      if (result.status >= 300 && result.status !== 404) throw new Error(`Aura API did not delete instance ${instanceId} (HTTP ${result.status})`);
    },
  };
}
