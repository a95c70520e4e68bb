import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createJwt } from '../../src/auth/tokens.js';
import { eventually, startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * The token attack suite (D1, D2, D3): every forged, expired, revoked or malformed token answers
 * 401 {"detail":"Unauthorized"} on an AUTH route (/auth/me) and on a STRICT route (/users/me), with
 * authentication required. Tokens are forged by hand with the server's known secret, so each
 * attack differs from an accepted token (the positive controls) in exactly one respect.
 */
const SECRET = 'token-attack-suite-secret-0123456789-abcdefghij';
const OTHER_SECRET = 'another-secret-another-secret-another-secret';
const ADMIN_EMAIL = 'default_user@example.com';
const ADMIN_PASSWORD = strongPassword();
const UNAUTHORIZED = { detail: 'Unauthorized' };
const ROUTES = ['/api/v1/auth/me', '/api/v1/users/me'] as const;

const b64 = (value: unknown) => (Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))).toString('base64url');

/** Builds a JWT by hand, so any header, payload, signing key or MAC can be forged. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = SECRET, hash = 'sha256'): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${createHmac(hash, secret).update(signingInput).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const HS256 = { alg: 'HS256', typ: 'JWT' };
/** The claims of a token this server issues (D1), for the given user. */
const issuedClaims = (sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub,
  aud: ['fastapi-users:auth'],
  iat: now(),
  exp: now() + 600,
  ...extra,
});
const issued = (sub: string, extra: Record<string, unknown> = {}) => forge(HS256, issuedClaims(sub, extra));

describe('token attack suite (authentication required)', () => {
  let server: TestServer;
  let c: Client;
  let victim: { id: string; email: string; password: string; token: string };
  let adminToken: string;

  /** The Authorization header is refused with the exact 401 envelope on both routes. */
  async function assertRejected(authorization: string, label: string) {
    for (const path of ROUTES) {
      const res = await c.get(path, { headers: { authorization }, cookies: false });
      assert.equal(res.status, 401, `${label} on ${path}: ${res.status} ${res.text}`);
      assert.deepEqual(res.body, UNAUTHORIZED, `${label} on ${path}`);
    }
  }
  const rejectToken = (token: string, label: string) => assertRejected(`Bearer ${token}`, label);

  /** The token is accepted on both routes, as the given user. */
  async function assertAccepted(token: string, user: { id: string; email: string }, label: string) {
    const me = await c.get('/api/v1/auth/me', { bearer: token, cookies: false });
    assert.equal(me.status, 200, `${label} on /auth/me: ${me.text}`);
    assert.deepEqual(me.body, { email: user.email }, label);
    const strict = await c.get('/api/v1/users/me', { bearer: token, cookies: false });
    assert.equal(strict.status, 200, `${label} on /users/me: ${strict.text}`);
    assert.equal(strict.body.id, user.id, label);
    assert.equal(strict.body.email, user.email, label);
  }

  /** A fresh account with its login token, on its own client. */
  async function account(prefix: string) {
    const client = server.client();
    const email = uniqueEmail(prefix);
    const password = strongPassword();
    const { id, token } = await client.signUp(email, password);
    return { client, id, email, password, token };
  }

  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, DEFAULT_USER_PASSWORD: ADMIN_PASSWORD } });
    c = server.client();
    const a = await account('victim');
    victim = { id: a.id, email: a.email, password: a.password, token: a.token };
    adminToken = await server.client().login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const admin = await c.get('/api/v1/users/me', { bearer: adminToken, cookies: false });
    assert.equal(admin.body.is_superuser, true, 'DEFAULT_USER_PASSWORD makes the default user a superuser');
  });
  after(() => server.close());

  // ------------------------------------------------------------------------------------------
  // Positive controls: the forgery helper and createJwt produce tokens the server accepts.

  it('positive control: a login token and a hand-forged issued token (sub, aud, exp) are accepted on both routes', async () => {
    await assertAccepted(victim.token, victim, 'login token');
    await assertAccepted(issued(victim.id), victim, 'forged issued token');
    await assertAccepted(issued(victim.id.toUpperCase()), victim, 'forged issued token, upper-case sub');
  });

  it('D2 positive control: a createJwt token for a never-seen user id is accepted and provisions that user', async () => {
    const userId = randomUUID();
    assert.equal((await c.get(`/api/v1/users/${userId}`, { bearer: adminToken, cookies: false })).status, 404);
    const token = await createJwt(userId, 'tenant_456', ['admin'], { secret: SECRET });
    await assertAccepted(token, { id: userId, email: `${userId}@external.invalid` }, 'external token');
    const provisioned = await c.get(`/api/v1/users/${userId}`, { bearer: adminToken, cookies: false });
    assert.equal(provisioned.status, 200);
    assert.equal(provisioned.body.is_superuser, false);
  });

  it('D2: an external token authenticates as user_id; a sub in it is ignored', async () => {
    const userId = randomUUID();
    const token = forge(HS256, { sub: victim.id, user_id: userId, exp: now() + 600 });
    await assertAccepted(token, { id: userId, email: `${userId}@external.invalid` }, 'external token with a foreign sub');
  });

  // ------------------------------------------------------------------------------------------
  // D1: only well-formed HS256 access tokens of this server.

  it('D1: alg "none" (unsigned) is refused', async () => {
    const claims = b64(issuedClaims(victim.id));
    await rejectToken(`${b64({ alg: 'none', typ: 'JWT' })}.${claims}.`, 'alg none, empty signature');
    await rejectToken(`${b64({ alg: 'none', typ: 'JWT' })}.${claims}`, 'alg none, two segments');
    await rejectToken(`${b64({ alg: 'None', typ: 'JWT' })}.${claims}.`, 'alg None');
    await rejectToken(`${b64({ alg: 'NONE' })}.${claims}.`, 'alg NONE');
    // A valid HS256 MAC under a "none" header is still an unsigned-token claim.
    await rejectToken(forge({ alg: 'none', typ: 'JWT' }, issuedClaims(victim.id)), 'alg none with an HMAC signature');
  });

  it('D1: other algorithms are refused even when the MAC is computed with the real secret', async () => {
    await rejectToken(forge({ alg: 'HS384', typ: 'JWT' }, issuedClaims(victim.id), SECRET, 'sha384'), 'HS384');
    await rejectToken(forge({ alg: 'HS512', typ: 'JWT' }, issuedClaims(victim.id), SECRET, 'sha512'), 'HS512');
    await rejectToken(forge({ alg: 'RS256', typ: 'JWT' }, issuedClaims(victim.id)), 'RS256 header, HMAC-SHA256 signature');
    await rejectToken(forge({ alg: 'ES256', typ: 'JWT' }, issuedClaims(victim.id)), 'ES256 header, HMAC-SHA256 signature');
    await rejectToken(forge({ alg: 'hs256', typ: 'JWT' }, issuedClaims(victim.id)), 'lower-case hs256');
    await rejectToken(forge({ typ: 'JWT' }, issuedClaims(victim.id)), 'no alg');
  });

  it('D1: a wrong audience is refused', async () => {
    await rejectToken(issued(victim.id, { aud: ['fastapi-users:reset'] }), 'reset audience');
    await rejectToken(issued(victim.id, { aud: ['fastapi-users:verify'] }), 'verify audience');
    await rejectToken(issued(victim.id, { aud: 'someone-else' }), 'foreign audience');
    await rejectToken(issued(victim.id, { aud: [] }), 'empty audience list');
    // With an aud the token is judged by D1 alone: a user_id cannot rescue it.
    await rejectToken(issued(victim.id, { aud: 'someone-else', user_id: victim.id }), 'foreign audience with user_id');
  });

  it('D1/D2: an issued-looking token without aud (sub, no user_id) is judged as external and refused', async () => {
    const { aud: _aud, ...noAud } = issuedClaims(victim.id);
    await rejectToken(forge(HS256, noAud), 'missing aud');
    await rejectToken(forge(HS256, { ...noAud, jti: randomUUID() }), 'missing aud, with jti');
  });

  it('D1: an expired token is refused', async () => {
    await rejectToken(issued(victim.id, { exp: now() - 1 }), 'expired one second ago');
    await rejectToken(issued(victim.id, { iat: now() - 7200, exp: now() - 3600 }), 'expired an hour ago');
  });

  it('D1: a token without exp, or with a non-numeric exp, is refused', async () => {
    await rejectToken(issued(victim.id, { exp: undefined }), 'issued token without exp');
    await rejectToken(issued(victim.id, { exp: String(now() + 600) }), 'exp as a string');
  });

  it('D1: a token that is not valid yet (future nbf) is refused', async () => {
    await rejectToken(issued(victim.id, { nbf: now() + 600 }), 'nbf in ten minutes');
    await rejectToken(issued(victim.id, { nbf: now() + 5 }), 'nbf in five seconds');
  });

  it('D1: a bad signature is refused', async () => {
    await rejectToken(forge(HS256, issuedClaims(victim.id), OTHER_SECRET), 'signed with another secret');
    const good = issued(victim.id);
    const [h, p, s] = good.split('.') as [string, string, string];
    const mac = Buffer.from(s, 'base64url');
    for (const index of [0, mac.length - 1]) {
      const flipped = Buffer.from(mac);
      flipped[index]! ^= 0x01;
      await rejectToken(`${h}.${p}.${b64(flipped)}`, `signature byte ${index} flipped`);
    }
    await rejectToken(`${h}.${p}.${b64(mac.subarray(0, 16))}`, 'truncated signature');
    await rejectToken(`${h}.${p}.`, 'empty signature');
    await rejectToken(`${h}.${b64(issuedClaims(randomUUID()))}.${s}`, 'payload swapped under a valid signature');
  });

  it('D1/D4: a token signed with the well-known secret "super_secret" is refused', async () => {
    await rejectToken(forge(HS256, issuedClaims(victim.id), 'super_secret'), 'issued token, super_secret');
    await rejectToken(forge(HS256, { user_id: victim.id, exp: now() + 600 }, 'super_secret'), 'external token, super_secret');
  });

  it('D1: a missing, non-UUID or unknown sub is refused', async () => {
    const { sub: _sub, ...noSub } = issuedClaims(victim.id);
    await rejectToken(forge(HS256, noSub), 'missing sub');
    await rejectToken(forge(HS256, { ...noSub, user_id: victim.id }), 'missing sub, user_id present');
    await rejectToken(issued('not-a-uuid'), 'non-UUID sub');
    await rejectToken(issued(victim.email), 'e-mail as sub');
    await rejectToken(issued(`${victim.id} `), 'UUID with a trailing space as sub');
    await rejectToken(forge(HS256, { ...noSub, sub: 42 }), 'numeric sub');
    await rejectToken(issued(randomUUID()), 'UUID of no user');
  });

  // ------------------------------------------------------------------------------------------
  // D3: sessions end.

  it('D3: a revoked jti (logout, then reuse) is refused, also under a re-signed token with the same jti', async () => {
    const token = await c.login(victim.email, victim.password);
    await assertAccepted(token, victim, 'before logout');
    const logout = await c.post('/api/v1/auth/logout', { bearer: token, cookies: false });
    assert.equal(logout.status, 200);
    await rejectToken(token, 'revoked token');
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string };
    await rejectToken(issued(victim.id, { jti }), 'fresh token carrying the revoked jti');
    await assertAccepted(issued(victim.id, { jti: randomUUID() }), victim, 'the same user with another jti');
  });

  it('D3: every token issued before a password change (PATCH /users/me) is refused; a new login works', async () => {
    const a = await account('pwchange');
    const other = await server.client().login(a.email, a.password);
    await assertAccepted(a.token, a, 'before the change');
    await assertAccepted(other, a, 'second session before the change');
    const newPassword = strongPassword();
    const patched = await a.client.patch('/api/v1/users/me', { json: { password: newPassword }, bearer: a.token, cookies: false });
    assert.equal(patched.status, 200);
    await rejectToken(a.token, 'the token that changed the password');
    await rejectToken(other, 'another session from before the change');
    await assertAccepted(await a.client.login(a.email, newPassword), a, 'login after the change');
  });

  it('D3: a token issued before a password reset (forgot → logged token → reset) is refused', async () => {
    const a = await account('reset');
    await assertAccepted(a.token, a, 'before the reset');
    assert.equal((await a.client.post('/api/v1/auth/forgot-password', { json: { email: a.email } })).status, 202);
    let resetToken: string | undefined;
    await eventually(async () => {
      const line = server.logs.messages().find((m) => m.includes(a.id) && /Reset token: /.test(m));
      resetToken = line ? /Reset token: (\S+)/.exec(line)?.[1] : undefined;
      return resetToken !== undefined;
    });
    const newPassword = strongPassword();
    const reset = await a.client.post('/api/v1/auth/reset-password', { json: { token: resetToken, password: newPassword }, cookies: false });
    assert.equal(reset.status, 200, reset.text);
    await rejectToken(a.token, 'token from before the reset');
    await assertAccepted(await a.client.login(a.email, newPassword), a, 'login after the reset');
  });

  it('D3: the token of a deactivated user is refused, and reactivation does not revive it', async () => {
    const a = await account('inactive');
    await assertAccepted(a.token, a, 'before deactivation');
    const off = await c.patch(`/api/v1/users/${a.id}`, { json: { is_active: false }, bearer: adminToken, cookies: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.is_active, false);
    await rejectToken(a.token, 'inactive user');
    await rejectToken(issued(a.id), 'freshly forged token of the inactive user');
    const on = await c.patch(`/api/v1/users/${a.id}`, { json: { is_active: true }, bearer: adminToken, cookies: false });
    assert.equal(on.status, 200);
    await rejectToken(a.token, 'token from before the deactivation, after reactivation');
    await assertAccepted(await a.client.login(a.email, a.password), a, 'login after reactivation');
  });

  it('D3: the token of a deleted user is refused', async () => {
    const a = await account('deleted');
    await assertAccepted(a.token, a, 'before deletion');
    const del = await c.delete(`/api/v1/users/${a.id}`, { bearer: adminToken, cookies: false });
    assert.equal(del.status, 204);
    await rejectToken(a.token, 'deleted user');
    await rejectToken(issued(a.id), 'freshly forged token of the deleted user');
  });

  // ------------------------------------------------------------------------------------------
  // D2: external tokens follow their own rules.

  it('D2: an external token without exp is refused, and provisions nobody', async () => {
    const userId = randomUUID();
    await rejectToken(forge(HS256, { user_id: userId, tenant_id: null, roles: [] }), 'external token without exp');
    await rejectToken(forge(HS256, { user_id: userId, iat: now(), jti: randomUUID() }), 'external token without exp, with iat and jti');
    assert.equal((await c.get(`/api/v1/users/${userId}`, { bearer: adminToken, cookies: false })).status, 404, 'no user was created');
    // The same claims with exp are accepted: exp was the only defect.
    const withExp = forge(HS256, { user_id: userId, tenant_id: null, roles: [], exp: now() + 600 });
    await assertAccepted(withExp, { id: userId, email: `${userId}@external.invalid` }, 'the same token with exp');
  });

  it('D2: an external token with a non-UUID user_id is refused', async () => {
    for (const userId of ['not-a-uuid', 'user_123', victim.email, '', 42, null, [victim.id], { id: victim.id }]) {
      await rejectToken(forge(HS256, { user_id: userId, exp: now() + 600 }), `user_id ${JSON.stringify(userId)}`);
    }
  });

  it('D2: an external token that is expired, not yet valid or signed with another secret is refused', async () => {
    await rejectToken(forge(HS256, { user_id: victim.id, exp: now() - 1 }), 'expired external token');
    await rejectToken(forge(HS256, { user_id: victim.id, exp: now() + 600, nbf: now() + 600 }), 'external token with a future nbf');
    await rejectToken(await createJwt(victim.id, null, [], { secret: OTHER_SECRET }), 'external token, other secret');
  });

  it('D2/D3: an external token issued before the user was deleted cannot bring the user back', async () => {
    const userId = randomUUID();
    const token = await createJwt(userId, null, [], { secret: SECRET });
    await assertAccepted(token, { id: userId, email: `${userId}@external.invalid` }, 'before deletion');
    assert.equal((await c.delete(`/api/v1/users/${userId}`, { bearer: adminToken, cookies: false })).status, 204);
    await rejectToken(token, 'external token from before the deletion');
    assert.equal((await c.get(`/api/v1/users/${userId}`, { bearer: adminToken, cookies: false })).status, 404, 'not re-provisioned');
  });

  // ------------------------------------------------------------------------------------------
  // Oversized and garbage input.

  it('a token over 8 KiB is refused even when validly signed; one just under the limit is accepted', async () => {
    const sized = (length: number) => {
      const base = issued(victim.id, { pad: '' });
      // Each 3 bytes of padding add 4 base64url characters.
      const pad = 'x'.repeat(Math.floor(((length - base.length) * 3) / 4));
      return issued(victim.id, { pad });
    };
    const small = sized(8100);
    assert.ok(small.length <= 8192 && small.length > 8000, `control token length ${small.length}`);
    await assertAccepted(small, victim, 'token just under 8 KiB');
    const big = sized(8300);
    assert.ok(big.length > 8192, `oversized token length ${big.length}`);
    await rejectToken(big, `validly signed token of ${big.length} characters`);
  });

  it('garbage Authorization headers are refused', async () => {
    const randomLatin1 = (n: number) =>
      Array.from(randomBytes(n), (byte) => String.fromCharCode(byte < 0x21 ? byte + 0x21 : byte === 0x7f ? 0x7e : byte)).join('');
    const headers = [
      'Bearer',
      'Bearer ',
      'bearer',
      'Bearer a.b',
      'Bearer ...',
      'Bearer ..',
      'Bearer a.b.c',
      'Bearer a.b.c.d',
      'Bearer a.b.c.d.e',
      `Bearer ${victim.token} ${victim.token}`,
      `Bearer ${victim.token},${victim.token}`,
      `Bearer ${victim.token}.${victim.token}`,
      `Bearer ${randomLatin1(40)}`,
      `Bearer ${randomBytes(48).toString('base64url')}`,
      `Bearer ${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
      'Bearer ééé.ééé.ééé',
      `Bearer ${b64({ alg: 'HS256' })}.${b64('{')}.AAAA`,
      `Bearer ${b64('not json')}.${b64(issuedClaims(victim.id))}.AAAA`,
      'Bearer null',
      'Bearer undefined',
      'Basic dXNlcjpwYXNz',
      'Token abc',
      victim.token,
    ];
    for (const header of headers) await assertRejected(header, `Authorization ${JSON.stringify(header).slice(0, 60)}`);
  });
});

describe('token attack suite: external tokens with EXTERNAL_TOKEN_AUTO_PROVISION=false (D2)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, EXTERNAL_TOKEN_AUTO_PROVISION: 'false' } });
  });
  after(() => server.close());

  it("D2: a createJwt token for a never-seen user is 401 on both routes; a known user's external token still works", async () => {
    const c = server.client();
    const token = await createJwt(randomUUID(), 'tenant_456', ['admin'], { secret: SECRET });
    for (const path of ROUTES) {
      const res = await c.get(path, { bearer: token, cookies: false });
      assert.equal(res.status, 401, path);
      assert.deepEqual(res.body, UNAUTHORIZED, path);
    }
    const email = uniqueEmail('known');
    const { id } = await c.signUp(email);
    const known = await createJwt(id, null, [], { secret: SECRET });
    const me = await c.get('/api/v1/users/me', { bearer: known, cookies: false });
    assert.equal(me.status, 200, 'a known user still works');
    assert.equal(me.body.id, id);
    assert.equal(me.body.email, email);
  });
});
