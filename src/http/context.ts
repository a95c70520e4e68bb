import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AccessService } from '../access/index.js';
import type { AuthService } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { MemoryService } from '../memory/index.js';

/** What every router receives. */
export interface HttpContext {
  readonly config: Config;
  readonly auth: AuthService;
  readonly access: AccessService;
  readonly memory: MemoryService;
  readonly version: string;
  /** Resolves when the relational store answers (readiness). */
  readonly ping: () => Promise<void>;
}

export type App = FastifyInstance<any, any, any, any, ZodTypeProvider>;

export const SECURED: { [scheme: string]: string[] }[] = [{ BearerAuth: [] }, { ApiKeyAuth: [] }];
export const PUBLIC: never[] = [];
