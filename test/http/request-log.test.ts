import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { deferredRequestLogger } from '../../src/http/request-log.js';
import { createLogger, isoTime } from '../../src/logger.js';
import { eventually, startTestServer, uniqueEmail, type TestServer } from '../helpers/harness.js';

/**
 * The request path's logging (src/http/request-log.ts): one access line per answered request with
 * a fixed set of fields and no secret; a request's own records keep its `reqId` and pino's
 * redaction although its logger is built only when it writes; the cached timestamp is pino's format.
 */

const ACCESS_FIELDS = ['level', 'time', 'service', 'reqId', 'method', 'path', 'status', 'ms', 'msg'];

function lines(capture: string[]): Record<string, unknown>[] {
  return capture.flatMap((chunk) => chunk.split('\n').filter((l) => l.trim() !== '')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function captureLogger(level: string) {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: createLogger(level, sink), chunks };
}

describe('the access line', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it('has the fixed fields only, the path without its query, the user and credential kind, and no credential anywhere in the log', async () => {
    const client = server.client();
    const email = uniqueEmail('access-line');
    const { token, id } = await client.signUp(email);
    const key = await client.post('/api/v1/auth/api-keys', { bearer: token, json: { name: 'log' } });
    assert.equal(key.status, 200);
    const apiKey = key.body.key as string;
    const querySecret = 'query-secret-7f3a';
    assert.equal((await client.get(`/api/v1/auth/me?token=${querySecret}`, { bearer: token, cookies: false })).status, 200);
    assert.equal((await client.get('/api/v1/auth/me', { apiKey, cookies: false })).status, 200);
    assert.equal((await client.get('/api/v1/auth/me', { bearer: `${token}x`, cookies: false })).status, 401);

    let records: Record<string, unknown>[] = [];
    await eventually(async () => {
      records = server.logs.lines.filter((l) => l.msg === 'request' && l.path === '/api/v1/auth/me');
      return records.length >= 3;
    });
    const [bearer, viaKey, refused] = records.slice(-3) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(Object.keys(bearer).sort(), [...ACCESS_FIELDS, 'userId', 'via'].sort());
    assert.deepEqual(
      { method: bearer.method, status: bearer.status, userId: bearer.userId, via: bearer.via },
      { method: 'GET', status: 200, userId: id, via: 'bearer' },
    );
    assert.deepEqual({ userId: viaKey.userId, via: viaKey.via }, { userId: id, via: 'api_key' });
    assert.deepEqual(Object.keys(refused).sort(), [...ACCESS_FIELDS].sort(), 'a refused request names no user');
    assert.equal(refused.status, 401);
    for (const record of [bearer, viaKey, refused]) {
      assert.match(String(record.reqId), /^[0-9a-f-]{36}$/);
      assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(record.service, 'engram');
    }
    const text = server.logs.text();
    for (const secret of [token, token.split('.')[2]!, apiKey, querySecret, client.jar.get('auth_token') ?? token]) {
      assert.ok(!text.includes(secret), 'the log holds a credential or the query string');
    }
  });

  it("a request's own record (a refused Host) carries the reqId of its access line", async () => {
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/api/v1/auth/me', headers: { host: 'rebound.example' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 421);
    let refusal: Record<string, unknown> | undefined;
    let access: Record<string, unknown> | undefined;
    await eventually(async () => {
      refusal = server.logs.lines.find((l) => l.host === 'rebound.example');
      access = refusal && server.logs.lines.find((l) => l.msg === 'request' && l.reqId === refusal!.reqId);
      return access !== undefined;
    });
    assert.equal(refusal!.level, 40);
    assert.equal(access!.status, 421);
  });
});

describe("a request's logger, built on first use", () => {
  it('writes nothing and builds no logger below its level; once it writes, the record has its bindings and is redacted', () => {
    const { log, chunks } = captureLogger('warn');
    let built = 0;
    const parent = Object.create(log, { child: { value: (...args: Parameters<typeof log.child>) => (built++, log.child(...args)) } }) as typeof log;
    const requestLog = deferredRequestLogger(parent, { reqId: 'r-1' }, {});
    requestLog.info({ password: 'hunter2' }, 'below the level');
    requestLog.debug('below the level');
    assert.equal(built, 0);
    assert.equal(chunks.length, 0);
    requestLog.warn({ password: 'hunter2', detail: { apiKey: 'k-123' } }, 'written');
    requestLog.error('again');
    assert.equal(built, 1, 'built once, on the first record written');
    const [first, second] = lines(chunks);
    assert.deepEqual(
      { reqId: first!.reqId, password: first!.password, detail: first!.detail, msg: first!.msg },
      { reqId: 'r-1', password: '[redacted]', detail: { apiKey: '[redacted]' }, msg: 'written' },
    );
    assert.equal(second!.reqId, 'r-1');
    assert.equal(requestLog.level, 'warn');
  });

  it('a route with a log level of its own gets its logger at once, at that level', () => {
    const { log, chunks } = captureLogger('warn');
    const requestLog = deferredRequestLogger(log, { reqId: 'r-2' }, { level: 'debug' });
    requestLog.debug('at the route level');
    assert.deepEqual(
      lines(chunks).map((l) => [l.reqId, l.msg]),
      [['r-2', 'at the route level']],
    );
  });
});

describe('the cached timestamp', () => {
  it("is pino's ISO time of the current millisecond", async () => {
    const before = Date.now();
    const first = isoTime();
    const after = Date.now();
    // pino's own shape: `,"time":"<ISO>"`.
    assert.equal(first.replace(/"[^"]*"$/, '""'), pino.stdTimeFunctions.isoTime().replace(/"[^"]*"$/, '""'));
    const value = Date.parse(JSON.parse(`{${first.slice(1)}}`).time as string);
    assert.ok(value >= before && value <= after);
    await new Promise((r) => setTimeout(r, 5));
    const later = JSON.parse(`{${isoTime().slice(1)}}`).time as string;
    assert.ok(Date.parse(later) > value, 'a later millisecond gets its own time');
    assert.match(later, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});
