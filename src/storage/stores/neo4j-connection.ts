/** Connecting to a Neo4j server through `neo4j-driver`, its errors, and reading records. */
import neo4j from 'neo4j-driver';
import type { Driver, ManagedTransaction } from 'neo4j-driver';

export interface Neo4jConnectionOptions {
  /** bolt://, bolt+s://, neo4j://, neo4j+s:// ... */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The database to use; the server's default database when omitted. */
  readonly database?: string;
  /** Connections kept by the driver (default 20). */
  readonly maxConnectionPoolSize?: number;
}

/** The Neo4j server could not be reached, or refused the credentials. */
export class Neo4jConnectionError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'Neo4jConnectionError';
  }
}

/** The URL without any user information, for messages. */
export function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export const TIMEOUT_CODES = new Set(['Neo.ClientError.Transaction.TransactionTimedOut', 'Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration']);

export type Row = Record<string, unknown>;

/**
 * A driver connected to the server (checking the credentials: a refusal is a Neo4jConnectionError
 * naming the server and the user, never the password).
 */
export async function openDriver(options: Neo4jConnectionOptions): Promise<Driver> {
  const { url, username, password } = options;
  if (typeof url !== 'string' || url === '') throw new Error('the Neo4j graph store needs a URL');
  const where = safeUrl(url);
  let driver: Driver;
  try {
    driver = neo4j.driver(url, neo4j.auth.basic(username, password), {
      userAgent: 'engram',
      telemetryDisabled: true,
      maxConnectionPoolSize: options.maxConnectionPoolSize ?? 20,
      connectionTimeout: 15_000,
      connectionAcquisitionTimeout: 60_000,
      maxTransactionRetryTime: 15_000,
    });
  } catch (error) {
    throw new Neo4jConnectionError(`invalid Neo4j URL ${where}: ${error instanceof Error ? error.message : String(error)}`, codeOf(error));
  }
  try {
    await driver.verifyConnectivity(options.database !== undefined ? { database: options.database } : {});
  } catch (error) {
    await driver.close().catch(() => undefined);
    const code = codeOf(error);
    if (code === 'Neo.ClientError.Security.Unauthorized') {
      throw new Neo4jConnectionError(`the Neo4j server at ${where} refused the credentials of user ${JSON.stringify(username)} (${code})`, code);
    }
    const message = error instanceof Error ? error.message : 'unknown error';
    const reason = typeof password === 'string' && password !== '' ? message.split(password).join('***') : message;
    throw new Neo4jConnectionError(`cannot connect to the Neo4j server at ${where}: ${reason}${code ? ` (${code})` : ''}`, code);
  }
  return driver;
}

/** Every record of one statement, as objects keyed by column. */
export async function records(tx: ManagedTransaction, statement: string, params: Record<string, unknown>): Promise<Row[]> {
  const result = await tx.run(statement, params);
  return result.records.map((record) => record.toObject() as Row);
}
