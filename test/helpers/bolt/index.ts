/**
 * A loopback stand-in for a Neo4j server: it speaks the real Bolt protocol (TCP, the 0x6060B017
 * handshake, PackStream v1, chunked messages) and executes every Cypher statement it receives for
 * real, on an embedded Kuzu database whose schema mirrors the property layout of the Neo4j graph
 * store (src/storage/stores/neo4j.ts):
 *
 *   Node(pk STRING PRIMARY KEY, id, dataset_id, name, type, properties, created_at, updated_at: STRING)
 *   EDGE(FROM Node TO Node, relationship_name, properties, created_at, updated_at: STRING)
 *
 * No Neo4j server can run on this machine; the official `neo4j-driver` talks to this one exactly as
 * it talks to Neo4j, so nothing the store sends is answered from a script: a wrong query fails
 * with Kuzu's error, a right one returns what Kuzu computes.
 *
 * Served: Bolt 5.0–5.4 and 4.4 (the versions to offer are configurable); HELLO (with the
 * credentials up to 5.0), LOGON, LOGOFF, BEGIN, RUN, PULL, DISCARD, COMMIT, ROLLBACK, RESET,
 * GOODBYE, ROUTE (for `neo4j://` URLs: this server holds every role) and TELEMETRY. The server's
 * state machine follows the Bolt specification: a FAILURE puts the connection in the FAILED state,
 * where every message but RESET and GOODBYE is IGNORED; a failed authentication closes the
 * connection. Access mode `r` runs the transaction as a Kuzu read-only transaction (a write fails
 * with `Neo.ClientError.Statement.AccessMode`); `tx_timeout` becomes Kuzu's query timeout (a query
 * past it fails with `Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration`). Write
 * transactions are serialised across connections (Kuzu has one writer at a time), like Neo4j's locks.
 *
 * Schema commands have no Kuzu equivalent: `CREATE CONSTRAINT <name> IF NOT EXISTS FOR (n:Node)
 * REQUIRE n.pk IS UNIQUE` is accepted because the Kuzu schema already makes `pk` the primary key,
 * and `CREATE INDEX <name> IF NOT EXISTS FOR (n:Node) ON (n.<column>)` is accepted as a no-op (Kuzu
 * has no secondary indexes); every other schema command is refused. They are counted in `stats`.
 *
 * The files: codec.ts (PackStream v1, chunking), protocol.ts (message tags, failures, versions),
 * server.ts (the listener, what tests configure and observe), session.ts (one connection's state
 * machine), transactions.ts (its Kuzu transactions and statements), values.ts (Kuzu values as Bolt
 * values, Bolt parameters as Kuzu parameters).
 */
export { Float, Struct, pack } from './codec.js';
export { BoltStandIn, type BoltStandInOptions, type BoltStandInStats } from './server.js';
