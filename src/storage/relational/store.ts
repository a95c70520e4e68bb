import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  OperationNodeTransformer,
  PostgresDialect,
  SqliteDialect,
  ValueNode,
  sql,
  PrimitiveValueListNode,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import pg from 'pg';
import type { Config, DbProvider } from '../../config/index.js';
import type { Database } from './schema.js';
import { StaticMigrationProvider } from './migrations.js';

export interface RelationalStore {
  readonly db: Kysely<Database>;
  readonly dialect: DbProvider;
  /** Connection settings for a dedicated PostgreSQL client (LISTEN/NOTIFY); undefined on SQLite. */
  readonly pgConnection?: pg.ClientConfig;
  migrate(): Promise<string[]>;
  /** Resolves when the database answers a query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** better-sqlite3 cannot bind booleans: store them as 0/1. */
class BooleanToInteger extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const value = node.value;
    return typeof value === 'boolean' ? ValueNode.create(value ? 1 : 0) : super.transformValue(node);
  }
  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return PrimitiveValueListNode.create(node.values.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value)));
  }
}

class SqliteBooleanPlugin implements KyselyPlugin {
  private readonly transformer = new BooleanToInteger();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node);
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

export function pgClientConfig(db: Extract<Config['db'], { provider: 'postgres' }>): pg.ClientConfig {
  return {
    host: db.host,
    port: db.port,
    database: db.name,
    user: db.username,
    ...(db.password !== undefined ? { password: db.password } : {}),
  };
}

export function openRelationalStore(config: Config): RelationalStore {
  let db: Kysely<Database>;
  let pgConnection: pg.ClientConfig | undefined;
  if (config.db.provider === 'sqlite') {
    mkdirSync(dirname(config.db.path), { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(config.db.path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // SQLite's 2 MiB default holds the dataset index of a small system only: past it, every
    // permission lookup becomes a read from the OS and a listing's cost grows with the datasets
    // other users hold (bench/permissions.ts). Pages are cached only once read.
    sqlite.pragma(`cache_size = ${-config.db.cacheMib * 1024}`);
    db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: sqlite }),
      plugins: [new SqliteBooleanPlugin()],
    });
  } else {
    pgConnection = pgClientConfig(config.db);
    const pool = new pg.Pool({ ...pgConnection, max: config.db.poolSize });
    // An idle client's error (server restart) must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }

  const dialect = config.db.provider;
  return {
    db,
    dialect,
    ...(pgConnection ? { pgConnection } : {}),
    async migrate() {
      const migrator = new Migrator({ db, provider: new StaticMigrationProvider(dialect) });
      const { error, results } = await migrator.migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error(String(error));
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
