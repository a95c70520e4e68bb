/**
 * A stand-in for the Neo4j Aura API on loopback: OAuth client credentials, instance creation,
 * polling until running, deletion. Every request is recorded in `seen`.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuraRequest {
  method: string;
  path: string;
  auth: string;
  body: string;
}

export interface AuraInstanceSpec {
  readonly id: string;
  readonly connection_url: string;
  readonly username: string;
  readonly password: string;
}

export interface AuraStandInOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly accessToken?: string;
  /** The instance a POST /v1/instances creates. */
  readonly instance: () => AuraInstanceSpec;
  /** GET polls answered 'creating' before 'running'. */
  readonly creatingPolls?: number;
  /** Called when an instance is deleted (e.g. to drop its database). */
  readonly onDelete?: (instanceId: string) => Promise<void> | void;
}

export interface AuraStandIn {
  readonly url: string;
  readonly seen: AuraRequest[];
  polls(): number;
  close(): Promise<void>;
}

export async function startAuraStandIn(options: AuraStandInOptions): Promise<AuraStandIn> {
  const clientId = options.clientId ?? 'client-id';
  const clientSecret = options.clientSecret ?? 'client-secret';
  const accessToken = options.accessToken ?? 'aura-access-token';
  const creatingPolls = options.creatingPolls ?? 1;
  const seen: AuraRequest[] = [];
  const created = new Map<string, AuraInstanceSpec>();
  let polls = 0;
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization ?? '', body });
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (req.url === '/oauth/token') {
      const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
      if (req.headers.authorization !== expected || body !== 'grant_type=client_credentials') return send(401, { error: 'invalid_client' });
      return send(200, { access_token: accessToken, token_type: 'bearer', expires_in: 3600 });
    }
    if (req.headers.authorization !== `Bearer ${accessToken}`) return send(401, { error: 'unauthorized' });
    if (req.method === 'POST' && req.url === '/v1/instances') {
      const instance = options.instance();
      created.set(instance.id, instance);
      return send(202, { data: { ...instance, status: 'creating' } });
    }
    const match = /^\/v1\/instances\/([^/]+)$/.exec(req.url ?? '');
    const id = match ? decodeURIComponent(match[1]!) : '';
    if (req.method === 'GET' && created.has(id)) {
      polls += 1;
      return send(200, { data: { id, status: polls > creatingPolls ? 'running' : 'creating' } });
    }
    if (req.method === 'DELETE' && created.has(id)) {
      created.delete(id);
      await options.onDelete?.(id);
      return send(202, { data: { id } });
    }
    return send(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    polls: () => polls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
