/** The Neo4j graph store's own Cypher statements (the rest are shared with Kuzu, in common.ts). */

export const SCHEMA = [
  'CREATE CONSTRAINT engram_node_pk IF NOT EXISTS FOR (n:Node) REQUIRE n.pk IS UNIQUE',
  'CREATE INDEX engram_node_dataset IF NOT EXISTS FOR (n:Node) ON (n.dataset_id)',
];

/** created_at is set once; the rest on every upsert. */
export const UPSERT_NODES = `
  UNWIND $rows AS r
  MERGE (n:Node {pk: r.pk})
  ON CREATE SET n.id = r.id, n.dataset_id = $dataset, n.created_at = $now
  SET n.name = r.name, n.type = r.type, n.properties = r.properties, n.updated_at = $now`;

/**
 * An edge whose end nodes do not both exist is not created (a MATCH finds nothing); an existing
 * edge takes the new properties, and a new updated_at only when they changed.
 */
export const UPSERT_EDGES = `
  UNWIND $rows AS r
  MATCH (a:Node {pk: r.source})
  MATCH (b:Node {pk: r.target})
  MERGE (a)-[e:EDGE {relationship_name: r.relationship}]->(b)
  ON CREATE SET e.properties = r.properties, e.created_at = $now, e.updated_at = $now
  ON MATCH SET e.updated_at = CASE WHEN e.properties = r.properties THEN e.updated_at ELSE $now END, e.properties = r.properties`;

export const AROUND_COLUMNS = `a.id AS a_id, a.name AS a_name, a.type AS a_type, a.properties AS a_properties,
  e.relationship_name AS relationship, e.properties AS properties,
  b.id AS b_id, b.name AS b_name, b.type AS b_type, b.properties AS b_properties`;
