import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestSpans, TRACES_PER_USER, USERS_TRACED, type RequestSpan } from '../../src/http/spans.js';

/** The span buffer behind /api/v1/activity/spans stays bounded: per user, and in users. */
const span = (n: number): RequestSpan => ({
  name: `GET /api/v1/x${n}`,
  trace_id: n.toString(16).padStart(32, '0'),
  span_id: n.toString(16).padStart(16, '0'),
  parent_span_id: null,
  start_time_ns: n * 1e6,
  end_time_ns: n * 1e6 + 1,
  duration_ms: 0.001,
  status: 'OK',
  attributes: {},
});

describe('request spans buffer', () => {
  it('keeps a user’s latest traces only, newest first', () => {
    const spans = new RequestSpans();
    for (let i = 0; i < TRACES_PER_USER + 10; i++) spans.record('u', span(i));
    const traces = spans.traces(['u']);
    assert.equal(traces.length, TRACES_PER_USER);
    assert.equal(traces[0]!.root_name, `GET /api/v1/x${TRACES_PER_USER + 9}`);
    assert.equal(traces.at(-1)!.root_name, 'GET /api/v1/x10');
  });

  it('forgets the least recently active user past the limit, and shows each viewer only the users asked for', () => {
    const spans = new RequestSpans();
    for (let u = 0; u <= USERS_TRACED; u++) spans.record(`user-${u}`, span(u));
    assert.deepEqual(spans.traces(['user-0']), [], 'the oldest user is gone');
    assert.equal(spans.traces(['user-1']).length, 1);
    assert.deepEqual(
      spans.traces(['user-2', 'user-3']).map((t) => t.root_name),
      ['GET /api/v1/x3', 'GET /api/v1/x2'],
    );
    assert.equal(spans.traces('all').length, TRACES_PER_USER, 'everyone’s: the latest 50');
  });
});
