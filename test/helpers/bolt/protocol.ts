/**
 * Bolt's message tags, the failures answered with a Neo4j status code, and protocol versions, for
 * the Bolt stand-in (see index.ts).
 */

export const MSG = {
  HELLO: 0x01,
  GOODBYE: 0x02,
  RESET: 0x0f,
  RUN: 0x10,
  BEGIN: 0x11,
  COMMIT: 0x12,
  ROLLBACK: 0x13,
  DISCARD: 0x2f,
  PULL: 0x3f,
  TELEMETRY: 0x54,
  ROUTE: 0x66,
  LOGON: 0x6a,
  LOGOFF: 0x6b,
  SUCCESS: 0x70,
  RECORD: 0x71,
  IGNORED: 0x7e,
  FAILURE: 0x7f,
} as const;

/** A failure answered to the client with a Neo4j status code. */
export class BoltFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const UNAUTHORIZED = 'Neo.ClientError.Security.Unauthorized';

/** Kuzu's error as the Neo4j status a client sees. */
export function failureOf(error: unknown): BoltFailure {
  if (error instanceof BoltFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  let code = 'Neo.DatabaseError.Statement.ExecutionFailed';
  if (/interrupt/i.test(message)) {
    return new BoltFailure(
      'Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration',
      `The transaction has been terminated. Retry your operation in a new transaction, and you should see a successful result. The transaction has not completed within the timeout specified at its start by the client. (${message})`,
    );
  }
  if (/read-only transaction/i.test(message)) {
    return new BoltFailure('Neo.ClientError.Statement.AccessMode', `Writing in read access mode not allowed. (${message})`);
  }
  if (/^Parser exception|multiple statements/i.test(message)) code = 'Neo.ClientError.Statement.SyntaxError';
  else if (/^Binder exception/i.test(message)) code = 'Neo.ClientError.Statement.SemanticError';
  else if (/duplicated primary key/i.test(message)) code = 'Neo.ClientError.Schema.ConstraintValidationFailed';
  else if (/^Runtime exception/i.test(message)) code = 'Neo.ClientError.Statement.ExecutionFailed';
  return new BoltFailure(code, message);
}

/** One version of the protocol as major.minor. */
export type Version = { major: number; minor: number };
export const parseVersion = (v: string): Version => {
  const [major, minor] = v.split('.').map(Number);
  return { major: major!, minor: minor! };
};
