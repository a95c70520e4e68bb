import assert from 'node:assert/strict';
import { createHmac, pbkdf2 } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as engram from '../../src/index.js';
import { InvalidTokenError, issueAccessToken, uuidv7, uuidv7Time, verifyAccessToken } from '../../src/auth/tokens.js';
import { HASH_SLOTS, hashPassword, passwordPolicyViolation, verifyPassword, MAX_PASSWORD_LENGTH } from '../../src/auth/passwords.js';
import { constantTimeEqual } from '../../src/auth/api-keys.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const USER = '6763554c-91bd-432c-aba8-d42cd72ed659';

describe('tokens', () => {
  it('D2: createJwt is exported by the package and mints an external token the server classifies as external', async () => {
    assert.equal(typeof engram.createJwt, 'function');
    const token = await engram.createJwt(USER, 'tenant_456', ['admin'], { secret: SECRET });
    const payload = decodeJwt(token);
    assert.equal(payload.user_id, USER);
    assert.equal(payload.tenant_id, 'tenant_456');
    assert.deepEqual(payload.roles, ['admin']);
    assert.equal(payload.aud, undefined);
    assert.equal(payload.exp! - payload.iat!, 3600);
    assert.equal(decodeProtectedHeader(token).alg, 'HS256');
    const claims = await verifyAccessToken(token, SECRET);
    assert.equal(claims.kind, 'external');
    assert.equal(claims.userId, USER);
    assert.deepEqual(claims.kind === 'external' && claims.roles, ['admin']);
  });

  it('D2: createJwt refuses a non-UUID user id, a short secret and a non-positive lifetime', async () => {
    await assert.rejects(engram.createJwt('user-1', null, [], { secret: SECRET }), TypeError);
    await assert.rejects(engram.createJwt(USER, null, [], { secret: 'short' }), TypeError);
    await assert.rejects(engram.createJwt(USER, null, [], { secret: SECRET, lifetimeSeconds: 0 }), TypeError);
  });

  it('D1: issued tokens carry sub, aud, exp, iat, jti (UUIDv7), user_id, tenant_id and roles', async () => {
    const before = Date.now();
    const issued = await issueAccessToken(SECRET, 120, { userId: USER, tenantId: null, roles: ['reader'] });
    const payload = decodeJwt(issued.token);
    assert.equal(payload.sub, USER);
    assert.deepEqual(payload.aud, ['fastapi-users:auth']);
    assert.equal(payload.exp! - payload.iat!, 120);
    assert.equal(payload.jti, issued.jti);
    assert.equal(payload.user_id, USER);
    assert.equal(payload.tenant_id, null);
    assert.deepEqual(payload.roles, ['reader']);
    const t = uuidv7Time(issued.jti)!;
    assert.ok(t >= before && t <= Date.now(), 'jti encodes the issue time in ms');
    const claims = await verifyAccessToken(issued.token, SECRET);
    assert.equal(claims.kind, 'issued');
    assert.equal(claims.issuedAtMs, t);
  });

  it('D1: a token signed with another secret, or for another audience, is refused', async () => {
    const issued = await issueAccessToken(SECRET, 120, { userId: USER, tenantId: null, roles: [] });
    await assert.rejects(verifyAccessToken(issued.token, SECRET + 'x'), InvalidTokenError);
    await assert.rejects(verifyAccessToken('x'.repeat(9000), SECRET), InvalidTokenError);
  });

  /** A compact HS256-signed JWS over exactly these header and payload objects. */
  const signRaw = (header: string, payload: string, secret = SECRET) => {
    const body = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  };
  const sign = (header: object, payload: object, secret = SECRET) => signRaw(JSON.stringify(header), JSON.stringify(payload), secret);
  const now = () => Math.floor(Date.now() / 1000);
  const issued = (extra: object = {}) => ({ sub: USER, aud: ['fastapi-users:auth'], exp: now() + 60, ...extra });
  const HS256 = { alg: 'HS256', typ: 'JWT' };

  it('D1: the HS256 check is strict about the header, the signature encoding, the payload and the time claims', async () => {
    assert.equal((await verifyAccessToken(sign(HS256, issued()), SECRET)).userId, USER, 'positive control');
    assert.equal((await verifyAccessToken(sign({ alg: 'HS256' }, issued({ iat: now(), nbf: now() })), SECRET)).kind, 'issued');
    const refused: [string, string][] = [
      ['alg none', sign({ alg: 'none' }, issued())],
      ['alg HS512', sign({ alg: 'HS512' }, issued())],
      ['alg hs256', sign({ alg: 'hs256' }, issued())],
      ['no alg', sign({ typ: 'JWT' }, issued())],
      ['a crit extension', sign({ ...HS256, crit: ['b64'], b64: true }, issued())],
      ['a header that is an array', sign(['HS256'], issued())],
      ['a payload that is an array', sign(HS256, [issued()])],
      ['a payload that is a string', sign(HS256, 'claims' as unknown as object)],
      ['expired', sign(HS256, issued({ exp: now() - 1 }))],
      ['exp now', sign(HS256, issued({ exp: now() }))],
      ['exp as a string', sign(HS256, issued({ exp: String(now() + 60) }))],
      ['exp out of range', signRaw(JSON.stringify(HS256), JSON.stringify(issued()).replace(/"exp":\d+/, '"exp":1e400'))],
      ['nbf in the future', sign(HS256, issued({ nbf: now() + 60 }))],
      ['nbf as a string', sign(HS256, issued({ nbf: '0' }))],
      ['iat as a string', sign(HS256, issued({ iat: 'yesterday' }))],
      ['another secret', sign(HS256, issued(), `${SECRET}x`)],
    ];
    const good = sign(HS256, issued());
    const [h, p, sig] = good.split('.') as [string, string, string];
    // The last character of a 32-byte signature carries 2 unused bits: another letter decodes to the same bytes.
    const last = sig.at(-1)!;
    const sibling = 'AEIMQUYcgkosw048'.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : last;
    refused.push(
      ['a non-canonical signature encoding', `${h}.${p}.${sig.slice(0, -1)}${sibling}`],
      ['a padded signature', `${good}=`],
      ['base64 rather than base64url', `${h}.${p}.${sig.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(sig) ? '' : '+'}`],
      ['a space in a segment', `${h}.${p} .${sig}`],
      ['four segments', `${good}.${sig}`],
      ['two segments', `${h}.${p}`],
      ['an empty signature', `${h}.${p}.`],
    );
    for (const [what, token] of refused) await assert.rejects(verifyAccessToken(token, SECRET), InvalidTokenError, what);
  });

  it('a token check does not queue on the thread pool behind password hashes (it is done before any of them)', async () => {
    const token = (await issueAccessToken(SECRET, 120, { userId: USER, tenantId: null, roles: [] })).token;
    // Twice as many slow jobs as the pool has threads: a check that needed a thread would wait for one of them.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    let finished = 0;
    const jobs = Array.from(
      { length: 2 * threads },
      () =>
        new Promise<void>((resolve, reject) => pbkdf2('password', 'salt', 200_000, 32, 'sha256', (error) => (error ? reject(error) : (finished++, resolve())))),
    );
    const claims = await verifyAccessToken(token, SECRET);
    assert.equal(claims.userId, USER);
    assert.equal(finished, 0, 'the check finished before any hash on the thread pool');
    await Promise.all(jobs);
  });

  it('uuidv7 ids are version 7, variant 10, and sortable by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(uuidv7Time(a), 1_700_000_000_000);
    assert.ok(a < b);
    assert.equal(uuidv7Time('6763554c-91bd-432c-aba8-d42cd72ed659'), undefined);
  });
});

describe('passwords (D8)', () => {
  it('hashes with argon2id at the OWASP parameters and verifies', async () => {
    const hash = await hashPassword('a long passphrase of mine');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.deepEqual(await verifyPassword('a long passphrase of mine', hash), { status: 'valid', needsRehash: false });
    assert.deepEqual(await verifyPassword('a long passphrase of mind', hash), { status: 'invalid' });
    assert.deepEqual(await verifyPassword('anything', '!'), { status: 'unusable' });
  });

  it('a burst of hashes leaves a thread of the pool free: other pool work does not wait for them', async () => {
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    assert.ok(HASH_SLOTS >= 1 && HASH_SLOTS < threads, `HASH_SLOTS ${HASH_SLOTS} leaves a thread of ${threads}`);
    let hashed = 0;
    const hashes = Array.from({ length: 2 * threads }, (_, i) => hashPassword(`burst-password-${i}`).then(() => hashed++));
    // One tiny job on the pool, queued after the whole burst: it must not wait for a hash to end.
    await new Promise<void>((resolve, reject) => pbkdf2('x', 'y', 1, 32, 'sha256', (error) => (error ? reject(error) : resolve())));
    assert.equal(hashed, 0, 'the pool job ran beside the hashes, not after one of them');
    await Promise.all(hashes);
  });

  it('refuses short, overlong, common and e-mail-derived passwords, with no composition rules', () => {
    const ctx = { minLength: 8, email: 'ada.lovelace@example.com' };
    assert.match(passwordPolicyViolation('short', ctx)!, /at least 8/);
    assert.match(passwordPolicyViolation('x'.repeat(MAX_PASSWORD_LENGTH + 1), ctx)!, /at most 128/);
    assert.equal(passwordPolicyViolation('y'.repeat(64) + 'z'.repeat(64), ctx), undefined, '128 characters are accepted');
    for (const common of ['password', 'Password1', '12345678', 'qwertyuiop', 'iloveyou', 'default_password']) {
      assert.match(passwordPolicyViolation(common, ctx) ?? '', /common/, common);
    }
    assert.match(passwordPolicyViolation('ada.lovelace@example.com', ctx)!, /e-mail/);
    assert.match(passwordPolicyViolation('my ada.lovelace pass', ctx)!, /e-mail/);
    assert.equal(passwordPolicyViolation('all lowercase words here', ctx), undefined, 'no composition rules');
    assert.match(passwordPolicyViolation('abcdefghijk', { minLength: 12 })!, /at least 12/);
    assert.equal(passwordPolicyViolation('🔑🔑🔑🔑🔑🔑🔑🔑', ctx), undefined, 'length counts characters, not bytes');
  });

  it('compares secrets in constant time regardless of length', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
    assert.equal(constantTimeEqual('', ''), true);
  });
});
