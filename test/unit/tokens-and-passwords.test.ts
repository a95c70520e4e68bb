import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as engram from '../../src/index.js';
import { InvalidTokenError, issueAccessToken, uuidv7, uuidv7Time, verifyAccessToken } from '../../src/auth/tokens.js';
import { hashPassword, passwordPolicyViolation, verifyPassword, MAX_PASSWORD_LENGTH } from '../../src/auth/passwords.js';
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
