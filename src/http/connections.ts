import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionLimits } from '../config/index.js';

/**
 * The HTTP server's time and connection bounds (slowloris): Node holds a request's headers 60 s
 * and a request 300 s by default, and Fastify keeps idle connections 72 s. Node checks the header
 * and request deadlines every `connectionsCheckingInterval`, so the interval follows the header
 * limit (a quarter of it, between 100 ms and 5 s).
 */
export function connectionOptions(limits: ConnectionLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4))),
    },
  };
}

/**
 * Caps the open connections: all clients together (`maxConnections`, past it Node closes new
 * sockets at once), and, when set, per connecting address (the socket's, not a forwarded one: a
 * proxy in front counts as one address, so leave the per-address cap off behind one).
 */
export function capConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  const perAddress = limits.maxConnectionsPerAddress;
  if (perAddress <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
