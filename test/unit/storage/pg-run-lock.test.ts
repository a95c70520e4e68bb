import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PostgresRunLock } from '../../../src/storage/pg-run-lock.js';
import { PG_ADMIN } from '../../helpers/harness.js';

/** One run per dataset across instances: the advisory lock on the local PostgreSQL. */
describe('PostgreSQL run lock', () => {
  const dataset = `lock-test-${Date.now()}-${Math.random()}`;

  it('excludes a second holder until released (a killed holder: see the crash test on PostgreSQL)', async () => {
    const a = new PostgresRunLock(PG_ADMIN);
    const b = new PostgresRunLock(PG_ADMIN);
    const release = await a.acquire(dataset);
    assert.equal(await b.tryAcquire(dataset), undefined, 'held by another session');
    let acquiredByB = false;
    const waiting = b.acquire(dataset).then((r) => {
      acquiredByB = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(acquiredByB, false, 'acquire waits while the lock is held');
    await release();
    const releaseB = await waiting;
    assert.equal(acquiredByB, true);
    await releaseB();
    const probe = await a.tryAcquire(dataset);
    assert.ok(probe, 'free again');
    await probe!();
  });

  it('another dataset is independent', async () => {
    const lock = new PostgresRunLock(PG_ADMIN);
    const one = await lock.acquire(`${dataset}-1`);
    const two = await lock.tryAcquire(`${dataset}-2`);
    assert.ok(two);
    await two!();
    await one();
  });
});
