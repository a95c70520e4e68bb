import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCounterStore, lockoutAccount, lockoutAddress } from '../../src/auth/rate-limit.js';

/** D9: the keys the login lockout counts under, and the in-process counters' rules. */
describe('D9: lockout keys', () => {
  it('an IPv4 address is itself, also IPv4-mapped; an IPv6 address is its /64; anything else a digest', () => {
    assert.equal(lockoutAddress('203.0.113.9'), '203.0.113.9');
    assert.equal(lockoutAddress('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(lockoutAddress('2001:db8:1:2::5'), lockoutAddress('2001:DB8:1:2:ffff:ffff:ffff:ffff'));
    assert.equal(lockoutAddress('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.notEqual(lockoutAddress('2001:db8:1:2::5'), lockoutAddress('2001:db8:1:3::5'));
    assert.equal(lockoutAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.match(lockoutAddress('not an address'), /^other:[A-Za-z0-9_-]{22}$/);
  });

  it('an account is a digest of the trimmed, lower-cased e-mail (no e-mail is stored)', () => {
    assert.equal(lockoutAccount(' Ada@Example.com '), lockoutAccount('ada@example.com'));
    assert.ok(!lockoutAccount('ada@example.com').includes('ada'));
  });
});

describe('D9: in-process lockout counters', () => {
  it('lock per account and address; clearing failures keeps a lock; clearing the account lifts every lock', async () => {
    const store = new MemoryCounterStore();
    try {
      assert.equal(await store.recordFailure('acct', 'a', 2, 60_000), false);
      assert.equal(await store.recordFailure('acct', 'a', 2, 60_000), true);
      assert.equal(await store.isLocked('acct', 'a'), true);
      assert.equal(await store.isLocked('acct', 'b'), false, 'another address');
      assert.equal(await store.isLocked('other', 'a'), false, 'another account');
      assert.equal(await store.recordFailure('acct', 'b', 2, 60_000), false);
      await store.clearFailures('acct', 'b');
      assert.equal(await store.recordFailure('acct', 'b', 2, 60_000), false, 'the count of b started again');
      await store.clearFailures('acct', 'a');
      assert.equal(await store.isLocked('acct', 'a'), true, 'a success elsewhere does not lift a lock');
      await store.clearAccount('acct');
      assert.equal(await store.isLocked('acct', 'a'), false);
      assert.equal(await store.recordFailure('acct', 'b', 2, 60_000), false, 'and the counts are gone');
    } finally {
      await store.close();
    }
  });
});
