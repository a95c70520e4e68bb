/**
 * The peer of Engram's authenticated route (bench/auth-peer.ts): a hand-rolled Fastify server whose
 * one route verifies an HS256 bearer token with @fastify/jwt and answers a small JSON object — no
 * revocation, no database, no logger, no other hook. Started by bench/run.ts with the secret in
 * PEER_JWT_SECRET and the audience to require in PEER_JWT_AUDIENCE; talks to it over IPC
 * (bench/child.ts).
 */
import jwt from '@fastify/jwt';
import Fastify from 'fastify';
import { serveParent, runChild } from './child.js';

declare module '@fastify/jwt' {
  interface FastifyJWT {
    user: { readonly sub: string };
  }
}

runChild('peer server', async () => {
  const secret = process.env.PEER_JWT_SECRET;
  const audience = process.env.PEER_JWT_AUDIENCE;
  if (!secret || !audience) throw new Error('PEER_JWT_SECRET and PEER_JWT_AUDIENCE are required');
  const app = Fastify({ logger: false });
  await app.register(jwt, { secret, verify: { algorithms: ['HS256'], allowedAud: audience } });
  app.get('/api/v1/auth/me', { onRequest: (request) => request.jwtVerify() }, async (request) => ({ id: request.user.sub }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  serveParent(url, () => app.close());
});
