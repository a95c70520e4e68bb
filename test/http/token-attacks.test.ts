import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createJwt } from '../../src/auth/tokens.js';
import { startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/** Every forged, expired, revoked or malformed token is 401 on an AUTH and a STRICT route. */
const SECRET = 'token-attack-suite-secret-0123456789-abcdefghij';
const ADMIN_PASSWORD = strongPassword();

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Builds a JWT by hand, so any header, payload or signature can be forged. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = SECRET, alg = 'sha256'): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  const signature = createHmac(alg, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);
const issuedClaims = (sub: string, extra: Record<string, unknown> = {}) => ({
  sub,
  aud: ['fastapi-users:auth'],
  iat: now(),
  exp: now() + 600,
  ...extra,
});
const HS256 = { alg: 'HS256', typ: 'JWT' };

describe('token attack suite', () => {
  let server: TestServer;
  let c: Client;
  let victim: { id: string; token: string; password: string; email: string };

  async function assertRejected(authorization: string, label: string) {
    for (const path of ['/api/v1/auth/me', '/api/v1/users/me']) {
      const res = await c.get(path, { headers: { authorization }, cookies: false });
      assert.equal(res.status, 401, `${label} on ${path}: ${res.status} ${res.text}`);
      assert.deepEqual(res.body, { detail: 'Unauthorized' }, label);
    }
  }
  const rejectToken = (token: string, label: string) => assertRejected(`Bearer ${token}`, label);

  async function newUser() {
    const email = uniqueEmail('victim');
    const reg = await c.post('/api/v1/auth/register', { json: { email, password: victim?.password ?? strongPassword() } });
    return { id: reg.body.id as string, email };
  }

  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, DEFAULT_USER_PASSWORD: ADMIN_PASSWORD } });
    c = server.client();
    const email = uniqueEmail('victim');
    const password = strongPassword();
    const { id, token } = await c.signUp(email, password);
    victim = { id, token, password, email };
  });
  after(() => server.close());

  it('positive control: a correctly forged issued token is accepted (the forgery helper is right)', async () => {
    const res = await c.get('/api/v1/auth/me', { bearer: forge(HS256, issuedClaims(victim.id)), cookies: false });
    assert.equal(res.status, 200);
    assert.equal(res.body.email, victim.email);
  });

  it('D1: alg "none" (unsigned) is refused', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(issuedClaims(victim.id))}.`;
    await rejectToken(unsigned, 'alg none');
    await rejectToken(unsigned.slice(0, -1), 'alg none without the trailing dot');
    await rejectToken(`${b64({ alg: 'None' })}.${b64(issuedClaims(victim.id))}.`, 'alg None');
  });

  it('D1: other algorithms are refused even with a valid HMAC', async () => {
    await rejectToken(forge({ alg: 'HS384', typ: 'JWT' }, issuedClaims(victim.id), SECRET, 'sha384'), 'HS384');
    await rejectToken(forge({ alg: 'HS512', typ: 'JWT' }, issuedClaims(victim.id), SECRET, 'sha512'), 'HS512');
    await rejectToken(forge({ alg: 'RS256', typ: 'JWT' }, issuedClaims(victim.id)), 'RS256 header, HMAC signature');
    await rejectToken(forge({ typ: 'JWT' }, issuedClaims(victim.id)), 'no alg');
  });

  it('D1: a wrong or foreign audience is refused', async () => {
    await rejectToken(forge(HS256, issuedClaims(victim.id, { aud: ['fastapi-users:reset'] })), 'reset audience');
    await rejectToken(forge(HS256, issuedClaims(victim.id, { aud: 'someone-else' })), 'foreign audience');
    await rejectToken(forge(HS256, issuedClaims(victim.id, { aud: [] })), 'empty audience');
  });

  it('D1/D2: a token without aud is judged as external and needs user_id: sub alone is refused', async () => {
    const { aud: _aud, ...noAud } = issuedClaims(victim.id);
    await rejectToken(forge(HS256, noAud), 'missing aud');
  });

  it('D1: expired and not-yet-valid tokens are refused', async () => {
    await rejectToken(forge(HS256, issuedClaims(victim.id, { exp: now() - 1 })), 'expired');
    await rejectToken(forge(HS256, issuedClaims(victim.id, { nbf: now() + 600 })), 'future nbf');
    await rejectToken(forge(HS256, issuedClaims(victim.id, { exp: undefined })), 'issued token without exp');
    await rejectToken(forge(HS256, issuedClaims(victim.id, { exp: 'tomorrow' })), 'non-numeric exp');
  });

  it('D1: a bad signature is refused', async () => {
    await rejectToken(forge(HS256, issuedClaims(victim.id), 'another-secret-another-secret-another-secret'), 'other secret');
    await rejectToken(forge(HS256, issuedClaims(victim.id), 'super_secret'), 'the well-known default secret');
    const good = forge(HS256, issuedClaims(victim.id));
    const flipped = good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A') + good.at(-1);
    await rejectToken(flipped, 'flipped signature character');
    const [h, , s] = good.split('.');
    await rejectToken(`${h}.${b64(issuedClaims(randomUUID()))}.${s}`, 'payload swapped under a valid signature');
  });

  it('D1: missing or non-UUID sub is refused', async () => {
    const { sub: _sub, ...noSub } = issuedClaims(victim.id);
    await rejectToken(forge(HS256, noSub), 'missing sub');
    await rejectToken(forge(HS256, issuedClaims('not-a-uuid')), 'non-UUID sub');
    await rejectToken(forge(HS256, issuedClaims(victim.email)), 'e-mail as sub');
    await rejectToken(forge(HS256, issuedClaims(randomUUID())), 'unknown user');
  });

  it('D3: a revoked jti (after logout) is refused', async () => {
    const token = await c.login(victim.email, victim.password);
    assert.equal((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 200);
    assert.equal((await c.post('/api/v1/auth/logout', { bearer: token, cookies: false })).status, 200);
    await rejectToken(token, 'revoked jti');
  });

  it('D3: a token issued before a password change is refused; one issued after works', async () => {
    const email = uniqueEmail('pwchange');
    const password = strongPassword();
    const client = server.client();
    const { token } = await client.signUp(email, password);
    const newPassword = strongPassword();
    const patched = await client.patch('/api/v1/users/me', { json: { password: newPassword }, bearer: token, cookies: false });
    assert.equal(patched.status, 200);
    await rejectToken(token, 'token from before the password change');
    const fresh = await client.login(email, newPassword);
    assert.equal((await client.get('/api/v1/auth/me', { bearer: fresh, cookies: false })).status, 200);
  });

  it('D3: a token issued before a password reset is refused', async () => {
    const email = uniqueEmail('reset');
    const client = server.client();
    const { token, id } = await client.signUp(email, strongPassword());
    assert.equal((await client.post('/api/v1/auth/forgot-password', { json: { email } })).status, 202);
    const line = server.logs.lines.find((l) => String(l.msg).includes(`User ${id} has forgot their password`));
    const resetToken = /Reset token: (\S+)/.exec(String(line?.msg))?.[1];
    assert.ok(resetToken, 'the reset token is logged when SMTP is not configured');
    const reset = await client.post('/api/v1/auth/reset-password', { json: { token: resetToken, password: strongPassword() } });
    assert.equal(reset.status, 200);
    await rejectToken(token, 'token from before the reset');
  });

  it('D3: tokens of a deactivated or deleted user are refused', async () => {
    const admin = server.client();
    const adminToken = await admin.login('default_user@example.com', ADMIN_PASSWORD);
    const one = server.client();
    const a = await one.signUp(uniqueEmail('inactive'));
    assert.equal((await admin.patch(`/api/v1/users/${a.id}`, { json: { is_active: false }, bearer: adminToken })).status, 200);
    await rejectToken(a.token, 'inactive user');
    // Reactivation does not bring the old token back.
    assert.equal((await admin.patch(`/api/v1/users/${a.id}`, { json: { is_active: true }, bearer: adminToken })).status, 200);
    await rejectToken(a.token, 'token from before a deactivation');

    const two = server.client();
    const b = await two.signUp(uniqueEmail('deleted'));
    assert.equal((await admin.delete(`/api/v1/users/${b.id}`, { bearer: adminToken })).status, 204);
    await rejectToken(b.token, 'deleted user');
  });

  it('D2: external tokens work for a never-seen user, but not without exp or with a bad user_id', async () => {
    const userId = randomUUID();
    const good = await createJwt(userId, 'tenant_456', ['admin'], { secret: SECRET });
    const ok = await c.get('/api/v1/auth/me', { bearer: good, cookies: false });
    assert.equal(ok.status, 200, 'a just-in-time user');
    assert.equal(ok.body.email, `${userId}@external.invalid`);
    await rejectToken(forge(HS256, { user_id: randomUUID(), tenant_id: 't', roles: [] }), 'external without exp');
    await rejectToken(forge(HS256, { user_id: 'not-a-uuid', exp: now() + 60 }), 'external with a non-UUID user_id');
    await rejectToken(forge(HS256, { user_id: randomUUID(), exp: now() + 60, roles: 'admin' }), 'roles not a list');
    await rejectToken(forge(HS256, { user_id: randomUUID(), exp: now() + 60, tenant_id: 42 }), 'tenant_id not a string');
    await rejectToken(await createJwt(userId, null, [], { secret: 'a-different-secret-a-different-secret-0000' }), 'external, other secret');
  });

  it('D2/D3: an external token for a deleted user cannot bring it back', async () => {
    const admin = server.client();
    const adminToken = await admin.login('default_user@example.com', ADMIN_PASSWORD);
    const userId = randomUUID();
    const before = await createJwt(userId, null, [], { secret: SECRET });
    assert.equal((await c.get('/api/v1/auth/me', { bearer: before, cookies: false })).status, 200);
    assert.equal((await admin.delete(`/api/v1/users/${userId}`, { bearer: adminToken })).status, 204);
    await rejectToken(before, 'external token issued before the deletion');
  });

  it('oversized and garbage Authorization headers are refused', async () => {
    const big = forge(HS256, issuedClaims(victim.id, { pad: 'x'.repeat(9000) }));
    await rejectToken(big, 'token over 8 KiB');
    for (const header of [
      'Bearer',
      'Bearer ',
      'Bearer a.b',
      'Bearer ...',
      'Bearer a.b.c.d',
      `Bearer ${victim.token} ${victim.token}`,
      'Bearer %%%.%%%.%%%',
      `Bearer ${b64('{"alg":"HS256"')}.${b64('{')}.AAAA`,
      `Bearer ${Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64url')}`,
      'Bearer ééé.ééé.ééé',
      'Basic dXNlcjpwYXNz',
    ]) {
      const res = await c.get('/api/v1/auth/me', { headers: { authorization: header }, cookies: false });
      assert.equal(res.status, 401, `${JSON.stringify(header).slice(0, 40)} → ${res.status}`);
    }
    const cookie = await c.get('/api/v1/auth/me', { headers: { cookie: `auth_token=${'a'.repeat(9000)}` }, cookies: false });
    assert.equal(cookie.status, 401);
    const key = await c.get('/api/v1/auth/me', { headers: { 'x-api-key': 'k'.repeat(2000) }, cookies: false });
    assert.equal(key.status, 401);
  });
});

describe('external tokens with auto-provisioning off (D2)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, EXTERNAL_TOKEN_AUTO_PROVISION: 'false' } });
  });
  after(() => server.close());

  it('D2: an unknown user is not created when EXTERNAL_TOKEN_AUTO_PROVISION=false', async () => {
    const c = server.client();
    const token = await createJwt(randomUUID(), 'tenant_456', ['admin'], { secret: SECRET });
    assert.equal((await c.get('/api/v1/auth/me', { bearer: token })).status, 401);
    const { id } = await c.signUp(uniqueEmail('known'));
    const known = await createJwt(id, null, [], { secret: SECRET });
    assert.equal((await c.get('/api/v1/auth/me', { bearer: known, cookies: false })).status, 200, 'a known user still works');
  });
});
