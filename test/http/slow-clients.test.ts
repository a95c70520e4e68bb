import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/harness.js';

/**
 * Slow and greedy clients cannot hold the server's sockets (slowloris): headers sent byte by byte
 * past HTTP_HEADERS_TIMEOUT_MS end the connection, and one address holds at most
 * HTTP_MAX_CONNECTIONS_PER_ADDRESS connections. No timing threshold is asserted: the client only
 * waits, generously, for the server to close the socket (Node's default would hold it 60 s).
 */

/** A generous bound on waiting for the server to act; far below Node's 60 s header default. */
const PATIENCE_MS = 30_000;

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what the server sent once it closed the socket, or 'still open' after PATIENCE_MS. */
function closedByServer(socket: Socket): Promise<{ closed: boolean; received: string }> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, received }), PATIENCE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
  });
}

describe('slow clients', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ env: { HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '3' } });
  });
  after(async () => {
    await server?.close();
  });

  it('a client sending its headers byte by byte slower than HTTP_HEADERS_TIMEOUT_MS is disconnected with 408', async () => {
    const socket = await open(server.url);
    const outcome = closedByServer(socket);
    const request = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Slow: a\r\n'.repeat(10_000)}\r\n`;
    let sent = 0;
    // One byte every 50 ms: the headers would take minutes; the server must not wait for them.
    const drip = setInterval(() => {
      if (socket.destroyed || sent >= request.length) return;
      socket.write(request[sent++]!);
    }, 50);
    try {
      const { closed, received } = await outcome;
      assert.ok(closed, 'the server closed the slow connection');
      assert.ok(sent < request.length, 'before the headers were complete');
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.ok(received.endsWith('{"detail":"Request timeout"}'), received);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('a connection that sent one byte and then nothing is closed too', async () => {
    const socket = await open(server.url);
    try {
      socket.write('G'); // the header deadline runs from the first byte
      const { closed } = await closedByServer(socket);
      assert.ok(closed);
    } finally {
      socket.destroy();
    }
  });

  it('an address holds at most HTTP_MAX_CONNECTIONS_PER_ADDRESS connections; the others are refused, and freed places serve again', async () => {
    const held = await Promise.all([open(server.url), open(server.url), open(server.url)]);
    try {
      const extra = await open(server.url);
      held.push(extra);
      const { closed, received } = await closedByServer(extra);
      assert.ok(closed, 'the fourth connection is closed by the server');
      assert.equal(received, '', 'without an answer');
      // The held connections still work.
      held[0]!.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      const answer = await closedByServer(held[0]!);
      assert.match(answer.received, /^HTTP\/1\.1 200 /);
    } finally {
      for (const socket of held) socket.destroy();
    }
    // Once closed, their places serve new connections.
    let health = await fetch(`${server.url}/health`).catch(() => undefined);
    for (let i = 0; i < 50 && health?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await fetch(`${server.url}/health`).catch(() => undefined);
    }
    assert.equal(health?.status, 200);
  });
});
