import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuthService } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { MemoryEngine } from '../memory/engine.js';
import type { RelationalStore } from '../storage/index.js';

/** What every router receives. */
export interface HttpContext {
  readonly config: Config;
  readonly auth: AuthService;
  readonly store: RelationalStore;
  readonly memory: MemoryEngine;
  readonly version: string;
}

export type App = FastifyInstance<any, any, any, any, ZodTypeProvider>;

export const SECURED: { [scheme: string]: string[] }[] = [{ BearerAuth: [] }, { ApiKeyAuth: [] }];
export const PUBLIC: never[] = [];
