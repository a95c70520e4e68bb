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
  /** Whether each store answers (readiness): `relational_db`, `vector_db`, `graph_db`, `file_storage`. */
  readonly health: () => Promise<Record<string, ComponentHealth>>;
  /** When this server started (epoch ms), for `uptime`. */
  readonly startedAt: number;
}

/** One component of `GET /health/detailed` (the reference's shape). */
export interface ComponentHealth {
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  readonly provider: string;
  readonly response_time_ms: number;
  readonly details: string;
}

export type App = FastifyInstance<any, any, any, any, ZodTypeProvider>;

export const SECURED: { [scheme: string]: string[] }[] = [{ BearerAuth: [] }, { ApiKeyAuth: [] }];
export const PUBLIC: never[] = [];
