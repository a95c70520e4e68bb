/** The Kuzu graph store's own Cypher statements (the rest are shared with Neo4j, in common.ts). */

/*
 * How Kuzu 0.11 plans these statements, as measured (10,000 to 100,000 nodes):
 * - `MATCH (n:Node {pk: k})` where k is an UNWIND element, or a value projected with WITH before
 *   the MATCH, is a hash join on the primary key: milliseconds per thousand rows;
 * - two nodes matched by key in one MATCH clause, a key read from a struct or list inside the
 *   pattern, or a MERGE of an edge between two nodes matched by key, become a cross product of
 *   node scans: seconds per thousand rows on 10,000 nodes, and the buffer pool runs out on more;
 * - a list of structs as a parameter costs about 45 µs per row to pass, parallel lists of
 *   scalars (one list per column, read by position) about 20 times less.
 * So every batch is sent as parallel lists, keys are projected with WITH before they are
 * matched, the two ends of an edge are matched in two MATCH clauses, and upserts look the keys
 * up first, then CREATE what is new and SET what exists.
 * COPY ... FROM (subquery) is faster still but is not used: rolling back a transaction that
 * copied edges into a non-empty table lost edges committed before it, and crashed the process.
 */

/** The keys of `pks` that exist. */
export const EXISTING_NODES = 'UNWIND $pks AS k MATCH (n:Node {pk: k}) RETURN n.pk AS pk';

export const INSERT_NODES = `
  UNWIND range(1, size($pk)) AS i
  WITH i, $pk AS pk, $id AS id, $name AS name, $type AS type, $properties AS properties
  CREATE (:Node {pk: pk[i], id: id[i], dataset_id: $dataset, name: name[i], type: type[i], properties: properties[i],
                 created_at: timestamp($now), updated_at: timestamp($now)})`;

/** created_at is kept. */
export const UPDATE_NODES = `
  UNWIND range(1, size($pk)) AS i
  WITH i, $pk AS pk, $name AS name, $type AS type, $properties AS properties
  WITH pk[i] AS k, name[i] AS name, type[i] AS type, properties[i] AS properties
  MATCH (n:Node {pk: k})
  SET n.name = name, n.type = type, n.properties = properties, n.updated_at = timestamp($now)`;

/** Every edge leaving one of `pks`. */
export const EDGES_FROM = `
  UNWIND $pks AS k
  MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node)
  RETURN a.pk AS source, b.pk AS target, e.relationship_name AS relationship, e.properties AS properties`;

/** An edge whose end nodes do not both exist is not created (its MATCH finds nothing). */
export const INSERT_EDGES = `
  UNWIND range(1, size($source)) AS i
  WITH i, $source AS source, $target AS target, $relationship AS relationship, $properties AS properties
  WITH source[i] AS s, target[i] AS t, relationship[i] AS relationship, properties[i] AS properties
  MATCH (a:Node {pk: s})
  WITH a, t, relationship, properties
  MATCH (b:Node {pk: t})
  CREATE (a)-[:EDGE {relationship_name: relationship, properties: properties,
                     created_at: timestamp($now), updated_at: timestamp($now)}]->(b)`;

/** created_at is kept. */
export const UPDATE_EDGES = `
  UNWIND range(1, size($source)) AS i
  WITH i, $source AS source, $target AS target, $relationship AS relationship, $properties AS properties
  WITH source[i] AS s, target[i] AS t, relationship[i] AS relationship, properties[i] AS properties
  MATCH (a:Node {pk: s})-[e:EDGE]->(b:Node)
  WHERE b.pk = t AND e.relationship_name = relationship
  SET e.properties = properties, e.updated_at = timestamp($now)`;
