import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import kuzu from 'kuzu';
import { CypherRefused, MAX_CYPHER_LENGTH, assertReadOnlyCypher, checkReadOnlyCypher } from '../../src/security/cypher-gate.js';

/**
 * The read-only Cypher gate: an attack suite of write, file, network and multi-statement queries
 * (with comment, casing and whitespace tricks) that must be refused, the read queries that must
 * pass, and property tests that the gate never throws and never lets a write keyword through.
 */

function refused(query: string, reasonPattern?: RegExp): string {
  const result = checkReadOnlyCypher(query);
  assert.equal(result.ok, false, `expected refusal for ${JSON.stringify(query)}`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(typeof result.reason, 'string');
  assert.ok(result.reason.length > 0);
  if (reasonPattern) assert.match(result.reason, reasonPattern, `reason for ${JSON.stringify(query)}`);
  return result.reason;
}

function accepted(query: string): string {
  const result = checkReadOnlyCypher(query);
  assert.ok(result.ok, `expected acceptance for ${JSON.stringify(query)}: ${result.ok ? '' : result.reason}`);
  return result.query;
}

function casings(word: string): string[] {
  const mixed = [...word].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
  return [word.toUpperCase(), word.toLowerCase(), mixed, word[0]!.toUpperCase() + word.slice(1).toLowerCase()];
}

const WRITE_KEYWORDS = [
  'CREATE',
  'MERGE',
  'SET',
  'DELETE',
  'DETACH',
  'REMOVE',
  'DROP',
  'ALTER',
  'COPY',
  'LOAD',
  'INSTALL',
  'ATTACH',
  'USE',
  'EXPORT',
  'IMPORT',
  'CHECKPOINT',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'FOREACH',
];

describe('cypher gate: refused clauses', () => {
  for (const keyword of WRITE_KEYWORDS) {
    it(`refuses ${keyword} in every casing, at the start and mid-query`, () => {
      for (const spelled of casings(keyword)) {
        refused(`${spelled} (n:Node {name: 'x'})`, new RegExp(`Cypher clause ${keyword} is not allowed`));
        refused(`MATCH (n:Node) ${spelled} n.name = 'x' RETURN n`, new RegExp(`Cypher clause ${keyword} is not allowed`));
      }
    });
  }

  it('names the refused clause in a short message', () => {
    assert.equal(refused('CREATE (n:Node)'), 'Cypher clause CREATE is not allowed (queries are read-only)');
  });

  it('refuses typical write queries', () => {
    refused('MATCH (n) DETACH DELETE n');
    refused("MERGE (n:Node {id: 'a'}) RETURN n");
    refused('MATCH (n) REMOVE n.name RETURN n');
    refused('DROP TABLE Node');
    refused('ALTER TABLE Node ADD x INT64');
    refused('MATCH (n) WITH n SET n.x = 1 RETURN n');
    refused('UNWIND [1,2] AS x CREATE (:Node {id: x})');
    refused('MATCH (n) FOREACH (x IN [1] | SET n.x = x)');
    refused('BEGIN TRANSACTION');
    refused('COMMIT');
    refused('CHECKPOINT');
    refused('CREATE MACRO addOne(x) AS x + 1');
    refused('USE other_graph');
    refused("EXPORT DATABASE '/tmp/dump'");
    refused("IMPORT DATABASE '/tmp/dump'");
  });

  it('refuses file reads and extensions', () => {
    refused("LOAD FROM '/etc/passwd' RETURN *", /LOAD/);
    refused("load from '/etc/passwd' return *", /LOAD/);
    refused("LOAD WITH HEADERS (a STRING) FROM 'x.csv' RETURN *", /LOAD/);
    refused("COPY Node FROM '/etc/passwd'", /COPY/);
    refused("COPY (MATCH (n) RETURN n) TO '/tmp/out.csv'", /COPY/);
    refused('INSTALL httpfs', /INSTALL/);
    refused('LOAD EXTENSION httpfs', /LOAD/);
    refused("ATTACH '/tmp/other.kuzu' AS other (dbtype kuzu)", /ATTACH/);
    refused("MATCH (n) WITH n FROM '/etc/passwd' RETURN n", /FROM/);
    refused("RETURN read_csv('/etc/passwd')", /read_csv/);
    refused("RETURN READ_PARQUET ('s3://bucket/x.parquet')", /READ_PARQUET/);
    refused("RETURN `read_json`('/etc/passwd')", /read_json/);
    refused("RETURN copy_file('/etc/passwd')", /copy_file/);
    refused("RETURN loadfile('/etc/passwd')", /loadfile/);
    refused("RETURN LoadText /* gap */ ('/etc/passwd')", /LoadText/);
    refused("RETURN httpfs_get('http://169.254.169.254/')", /httpfs/);
    refused('MATCH (n) WHERE n.x = httpfs RETURN n', /httpfs/);
  });

  it('refuses PROJECT GRAPH', () => {
    refused("CALL PROJECT_GRAPH('g', ['Node'], ['Rel']) RETURN *");
    refused('MATCH (n) PROJECT GRAPH g (Node, Rel) RETURN n', /PROJECT GRAPH/);
    refused('MATCH (n) project /* */ graph g RETURN n', /PROJECT GRAPH/);
  });

  it('refuses CALL unless it names a known read-only procedure', () => {
    refused('CALL db.something()', /CALL/);
    refused('CALL db.labels() YIELD label RETURN label', /CALL/);
    refused('CALL { CREATE (n) }');
    refused('MATCH (n) CALL { MATCH (m) RETURN m } RETURN n', /CALL/);
    refused('CALL show_tables', /CALL/);
    refused('CALL show_tables.x()', /CALL/);
    refused('CALL `show_tables`() RETURN *', /CALL/);
    refused('CALL threads = 4', /CALL/);
    refused("CALL drop_fts_index('Node', 'idx')", /CALL/);
    refused("CALL create_fts_index('Node', 'idx', ['name'])", /CALL/);
  });

  it('refuses CALL of every procedure outside the allowlist, read-only or not (server settings, storage, extensions)', () => {
    const reason = /^Cypher CALL is only allowed for the read-only procedures show_tables, table_info, show_connection, db_version$/;
    refused("CALL current_setting('home_directory') RETURN *", reason);
    refused("CALL CURRENT_SETTING('home_directory') RETURN *", reason);
    refused("CALL current_setting ('file_search_path') RETURN *", reason);
    refused("MATCH (n) CALL current_setting('home_directory') RETURN n", reason);
    refused("RETURN 1 AS x UNION CALL current_setting('threads') RETURN *", reason);
    for (const procedure of [
      'show_functions()',
      'show_warnings()',
      'clear_warnings()',
      'show_attached_databases()',
      'show_loaded_extensions()',
      'show_official_extensions()',
      'show_indexes()',
      'show_sequences()',
      'show_projected_graphs()',
      "projected_graph_info('g')",
      "storage_info('Node')",
      "stats_info('Node')",
      'fsm_info()',
      'bm_info()',
      'file_info()',
      'catalog_version()',
      "page_rank('g')",
      "wcc('g')",
      "query_fts_index('Node', 'idx', 'x')",
      "drop_projected_graph('g')",
    ]) {
      refused(`CALL ${procedure} RETURN *`, reason);
    }
  });

  it('refuses several statements', () => {
    refused('MATCH (n) RETURN n; MATCH (m) DETACH DELETE m', /single statement/);
    refused('MATCH (n) RETURN n; RETURN 1', /single statement/);
    refused('MATCH (n) RETURN n;;', /single statement/);
    refused('; MATCH (n) RETURN n', /single statement/);
    refused('MATCH (n) RETURN n /* ; */ ; RETURN 1', /single statement/);
  });

  it('sees through comments', () => {
    refused('MATCH (n) /* */ DELETE n', /DELETE/);
    refused('CRE/**/ATE (n)', /CREATE/);
    refused('MATCH (n) DE/* hidden */LE/**/TE n', /DELETE/);
    refused('MATCH (n) // \n SET n.x=1 RETURN n', /SET/);
    refused('MATCH (n) // \r SET n.x=1 RETURN n', /SET/);
    refused('MATCH (n) RETURN n /* unterminated', /unterminated comment/);
    refused('MATCH (n) RETURN n /* */ */ CREATE (m)', /CREATE/);
    refused('MATCH (n) RETURN n /*/ CREATE (m) /*/ CREATE (k)', /CREATE/);
  });

  it('sees through whitespace and unicode tricks', () => {
    refused('MATCH (n)\tDELETE\tn', /DELETE/);
    refused('MATCH (n)\nDELETE\nn', /DELETE/);
    refused('MATCH (n)\r\nDELETE\r\nn', /DELETE/);
    refused('MATCH (n)\u00a0DELETE\u00a0n', /DELETE/);
    refused('MATCH\u00a0(n)\u2003SET\u3000n.x = 1', /SET/);
    refused('MATCH (n)\u2028DETACH\u2029DELETE n', /DETACH/);
    refused('\u00a0\tCREATE (n)', /CREATE/);
    refused('MATCH (n) WITH n, 1SET n.x = 1 RETURN n', /SET/);
    refused('MATCH (n) WHERE n.x = 0SET n.x = 7', /SET/);
    refused('MATCH (n) WITH n, n.x²SET n.x = 1 RETURN n', /SET/);
    refused('MATCH (n) ＳＥＴ n.x = 1 RETURN n', /SET/);
    refused('MATCH (n) ſet n.x = 1 RETURN n', /SET/);
    // Invisible format and control characters outside strings are refused outright.
    refused('MATCH (n) CRE\u200bATE (m)', /invisible/);
    refused('MATCH (n) CRE\u00adATE (m)', /invisible/);
    refused('\ufeffMATCH (n) RETURN n', /invisible/);
    refused('MATCH (n) RETURN n\u0000', /invisible/);
    refused('MATCH (n) RETURN n\u0085', /invisible/);
  });

  it('refuses empty, oversized, malformed and non-read queries', () => {
    refused('', /empty/);
    refused('   \n\t\u00a0 ', /empty/);
    refused('/* only a comment */', /empty/);
    refused(';', /empty/);
    refused(`MATCH (n) RETURN n ${' '.repeat(MAX_CYPHER_LENGTH)}`, /too long/);
    refused("MATCH (n) WHERE n.name = 'unterminated RETURN n", /unterminated string/);
    refused('MATCH (n) WHERE n.name = "x\\" RETURN n', /unterminated string/);
    refused('MATCH (n) RETURN n.`unterminated', /unterminated quoted identifier/);
    refused('EXPLAIN MATCH (n) RETURN n', /must start with/);
    refused('PROFILE MATCH (n) RETURN n', /must start with/);
    refused('SHOW TABLES', /must start with/);
    refused('(n) RETURN n', /must start with/);
    refused("'MATCH' RETURN 1", /must start with/);
    refused('`MATCH` (n) RETURN n', /must start with/);
    refused(42 as unknown as string, /string/);
  });

  it('keeps a query of exactly the maximum length', () => {
    const base = 'MATCH (n) RETURN n';
    accepted(base + ' '.repeat(MAX_CYPHER_LENGTH - base.length));
  });
});

describe('cypher gate: accepted read queries', () => {
  it('accepts ordinary reads', () => {
    assert.equal(accepted('MATCH (n:Node) RETURN n.name LIMIT 5'), 'MATCH (n:Node) RETURN n.name LIMIT 5');
    accepted('match (n:Node)-[r:Rel]->(m) where n.id = $id return m.name, count(*) order by m.name skip 1 limit 10');
    accepted('OPTIONAL MATCH (n:Node) RETURN n');
    accepted('optional match (n)-[]-(m) return n, m');
    accepted('UNWIND [1,2] AS x RETURN x');
    accepted('WITH 1 AS one RETURN one');
    accepted('RETURN 1 + 2');
    accepted('MATCH p = (a)-[*1..3]->(b) RETURN nodes(p), length(p)');
    accepted('MATCH (n) WHERE EXISTS { MATCH (n)-->(m) } RETURN n');
    accepted('MATCH (n) RETURN n.created_at, n.settings, n.offset, n.reset_count');
  });

  it('ignores keywords inside string literals and backtick identifiers', () => {
    accepted("MATCH (n) WHERE n.name = 'CREATE' RETURN n");
    accepted('MATCH (n) WHERE n.name = "delete me" RETURN n');
    accepted("MATCH (n) WHERE n.text CONTAINS 'x; DETACH DELETE n; LOAD FROM \\'/etc/passwd\\'' RETURN n");
    accepted('MATCH (n) WHERE n.text = "say \\"SET\\" // not a comment /* nor this */" RETURN n');
    accepted('MATCH (n) RETURN n.`set`, n.`data set`, n.`CREATE``d`');
    accepted('MATCH (n:`Delete`) RETURN n');
    accepted("MATCH (n) WHERE n.path = 'read_csv(/etc/passwd)' RETURN n");
  });

  it('ignores keywords inside comments', () => {
    accepted('MATCH (n) // then DELETE n\nRETURN n');
    accepted('MATCH (n) /* SET n.x = 1; DROP TABLE Node */ RETURN n');
    accepted('/* leading */ MATCH (n) RETURN n');
  });

  it('accepts a trailing semicolon and returns the query without it', () => {
    assert.equal(accepted('MATCH (n) RETURN n;'), 'MATCH (n) RETURN n');
    assert.equal(accepted('  MATCH (n) RETURN n ;  \n'), 'MATCH (n) RETURN n');
    assert.equal(accepted('MATCH (n) RETURN n; // done'), 'MATCH (n) RETURN n');
    assert.equal(accepted("MATCH (n) WHERE n.x = ';' RETURN n"), "MATCH (n) WHERE n.x = ';' RETURN n");
  });

  it('accepts unicode whitespace between tokens and unicode identifiers', () => {
    accepted('MATCH\u00a0(n)\tRETURN\u3000n');
    accepted('MATCH (n:Nœud) WHERE n.größe > 1 RETURN n.größe');
  });

  it('accepts CALL of the procedures that describe the graph', () => {
    accepted('CALL show_tables() RETURN *');
    accepted("CALL table_info('Node') RETURN *");
    accepted('CALL SHOW_TABLES() RETURN *');
    accepted('call db_version() return *');
    accepted("CALL show_connection('Rel') RETURN *");
    accepted('CALL show_tables () RETURN *');
    accepted('MATCH (n) CALL show_tables() RETURN n LIMIT 1');
  });

  it('assertReadOnlyCypher returns the query or throws CypherRefused', () => {
    assert.equal(assertReadOnlyCypher('MATCH (n) RETURN n;'), 'MATCH (n) RETURN n');
    assert.throws(
      () => assertReadOnlyCypher('MATCH (n) DELETE n'),
      (err: unknown) =>
        err instanceof CypherRefused &&
        err instanceof Error &&
        err.reason === 'Cypher clause DELETE is not allowed (queries are read-only)' &&
        err.message === err.reason,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests. The oracle below is deliberately independent of the gate's lexer: it removes
// strings, backtick identifiers and comments with one regular expression and then searches the
// remaining text for write keywords as whole words.

const WORD_CHAR = String.raw`[\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Pc}]`;
const ORACLE_KEYWORDS = [...WRITE_KEYWORDS, 'UNINSTALL'];
const ORACLE_KEYWORD_RE = new RegExp(`(?<!${WORD_CHAR})(?:${ORACLE_KEYWORDS.join('|')})(?!${WORD_CHAR})`, 'iu');
const STRINGS_AND_COMMENTS = /('(?:\\[\s\S]|[^'\\])*'|"(?:\\[\s\S]|[^"\\])*"|`(?:``|[^`])*`)|\/\/[^\n\r]*|\/\*[\s\S]*?\*\//g;

/** Text outside strings with comments removed entirely (`remove`) or replaced by a space. */
function outsideStrings(query: string, comment: '' | ' '): string {
  return query.replace(STRINGS_AND_COMMENTS, (match, literal: string | undefined) => (literal ? ' ' : comment));
}

function writeKeywordOutsideStrings(query: string): string | undefined {
  for (const variant of [outsideStrings(query, ''), outsideStrings(query, ' ')]) {
    const hit = ORACLE_KEYWORD_RE.exec(variant);
    if (hit) return hit[0];
  }
  return undefined;
}

const FRAGMENTS = [
  'MATCH',
  'match',
  'OPTIONAL MATCH',
  'RETURN',
  'WITH',
  'UNWIND',
  'WHERE',
  'AS',
  'LIMIT',
  'CALL',
  'show_tables()',
  'db.x()',
  '(n)',
  '(n:Node)',
  '-[r]->',
  'n.name',
  '*',
  '=',
  ',',
  '1',
  ';',
  '{',
  '}',
  '(',
  ')',
  ' ',
  ' ',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u2003',
  '\u200b',
  '/*',
  '*/',
  '/**/',
  '//',
  "'",
  '"',
  '`',
  '\\',
  "'CREATE'",
  '"set"',
  '`delete`',
  'CRE',
  'ATE',
  'SE',
  'T',
  'DEL',
  'ETE',
  'x',
  'ſet',
  'set',
  'Set',
  'CREATE',
  'DELETE',
  'DETACH',
  'MERGE',
  'LOAD',
  'FROM',
  "'/etc/passwd'",
  'read_csv(',
  'PROJECT',
  'GRAPH',
  ...WRITE_KEYWORDS.map((k) => k.toLowerCase()),
];

const fragmentQuery = fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 14 }).map((parts) => parts.join(''));

const readPrefixedQuery = fc
  .tuple(
    fc.constantFrom('MATCH (n) ', 'OPTIONAL MATCH (n) ', 'UNWIND [1] AS x ', 'WITH 1 AS x ', 'RETURN ', 'CALL show_tables() '),
    fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 10 }),
  )
  .map(([prefix, parts]) => prefix + parts.join(''));

/** Read clauses around a few random fragments, so a good share of them are valid Cypher. */
const runnableQuery = fc
  .tuple(
    fc.constantFrom('MATCH (n) ', 'MATCH (n:Node) WHERE n.x = 0 ', 'OPTIONAL MATCH (n) ', 'UNWIND [1] AS n ', 'WITH 1 AS n '),
    fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 3 }),
    fc.constantFrom(' RETURN *', ' RETURN n', ' RETURN 1', ' RETURN count(*)', ''),
  )
  .map(([prefix, parts, suffix]) => prefix + parts.join('') + suffix);

describe('cypher gate: properties', () => {
  it('never throws on arbitrary strings, always answering ok or a reason', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fragmentQuery), (query) => {
        const result = checkReadOnlyCypher(query);
        if (result.ok) {
          assert.equal(typeof result.query, 'string');
        } else {
          assert.equal(typeof result.reason, 'string');
          assert.ok(result.reason.length > 0 && result.reason.length < 300);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts a query with a write keyword outside strings and comments', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(fc.oneof(fragmentQuery, readPrefixedQuery), (query) => {
        const result = checkReadOnlyCypher(query);
        if (!result.ok) return;
        acceptedCount++;
        const hit = writeKeywordOutsideStrings(query);
        assert.equal(hit, undefined, `accepted ${JSON.stringify(query)} although it contains ${hit}`);
        // The returned query is itself accepted unchanged.
        const again = checkReadOnlyCypher(result.query);
        assert.ok(again.ok && again.query === result.query);
      }),
      { numRuns: 5000 },
    );
    assert.ok(acceptedCount > 100, `generator produced too few accepted queries (${acceptedCount})`);
  });

  it('refuses any read query with a write clause appended', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('MATCH (n) ', 'OPTIONAL MATCH (n) ', 'UNWIND [1] AS x ', 'WITH 1 AS x '),
        fc.constantFrom(...WRITE_KEYWORDS),
        fc.constantFrom(' ', '\t', '\n', '\u00a0', '/**/', '/* x */', '\u2003'),
        fc.boolean(),
        (prefix, keyword, gap, lower) => {
          const spelled = lower ? keyword.toLowerCase() : keyword;
          const result = checkReadOnlyCypher(`${prefix}${gap}${spelled}${gap}n.x = 1 RETURN n`);
          assert.equal(result.ok, false);
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Against the live engine: the tricks below really do write when handed to Kuzu directly (which
// shows the gate tokenises the way the engine does), the gate refuses every one of them, and no
// generated query the gate accepts changes the graph.

describe('cypher gate: against a live Kuzu engine', () => {
  let db: kuzu.Database;
  let conn: kuzu.Connection;

  async function run(c: kuzu.Connection, query: string): Promise<Array<Record<string, unknown>>> {
    const result = await c.query(query);
    const all = Array.isArray(result) ? result : [result];
    try {
      return (await all[all.length - 1]!.getAll()) as Array<Record<string, unknown>>;
    } finally {
      for (const each of all) each.close();
    }
  }

  async function fingerprint(c: kuzu.Connection): Promise<string> {
    const nodes = await run(c, 'MATCH (n:Node) RETURN n.id AS id, n.name AS name, n.x AS x ORDER BY id');
    const rels = await run(c, 'MATCH ()-[r:Rel]->() RETURN count(r) AS c');
    const tables = await run(c, 'CALL show_tables() RETURN name ORDER BY name');
    return JSON.stringify({ nodes, rels, tables });
  }

  async function freshGraph(): Promise<{ db: kuzu.Database; conn: kuzu.Connection }> {
    const d = new kuzu.Database(':memory:', 128 * 1024 * 1024);
    const c = new kuzu.Connection(d);
    await run(c, 'CREATE NODE TABLE Node(id STRING, name STRING, x INT64, PRIMARY KEY(id))');
    await run(c, 'CREATE REL TABLE Rel(FROM Node TO Node)');
    await run(c, "CREATE (:Node {id: 'a', name: 'alpha', x: 0})-[:Rel]->(:Node {id: 'b', name: 'beta', x: 0})");
    return { db: d, conn: c };
  }

  before(async () => {
    ({ db, conn } = await freshGraph());
  });

  after(async () => {
    await conn.close().catch(() => undefined);
    await db.close().catch(() => undefined);
  });

  const ENGINE_WRITES = [
    'MATCH (n) SET n.x = 1 RETURN n.x',
    'MATCH (n)\u00a0SET\u00a0n.x = 2 RETURN n.x',
    'MATCH (n)\u2003SET\tn.x = 3',
    'MATCH (n) /* gap */ SET n.x = 4',
    'MATCH (n) //\nSET n.x = 5',
    'MATCH (n) WITH n, 1 AS one SET n.x = 6',
    'MATCH (n) WHERE n.x = 0SET n.x = 7',
    "cReAtE (:Node {id: 'c'})",
    "MATCH (n:Node {id: 'b'}) DETACH DELETE n",
    "MERGE (:Node {id: 'd'})",
    'MATCH (n) SET n.name = NULL',
  ];

  it('the engine really executes each trick, and the gate refuses each', async () => {
    for (const query of ENGINE_WRITES) {
      refused(query);
      const scratch = await freshGraph();
      try {
        const before = await fingerprint(scratch.conn);
        await run(scratch.conn, query);
        assert.notEqual(await fingerprint(scratch.conn), before, `the engine did not write for ${JSON.stringify(query)}`);
      } finally {
        await scratch.conn.close().catch(() => undefined);
        await scratch.db.close().catch(() => undefined);
      }
    }
  });

  it('accepted queries run and return rows', async () => {
    const rows = await run(conn, accepted("MATCH (n:Node) WHERE n.name = 'CREATE' OR n.id = 'a' RETURN n.name AS name;"));
    assert.deepEqual(rows, [{ name: 'alpha' }]);
    assert.ok((await run(conn, accepted('CALL show_tables() RETURN *'))).length >= 2);
    assert.deepEqual(await run(conn, accepted('UNWIND [1,2] AS x RETURN x // trailing')), [{ x: 1 }, { x: 2 }]);
  });

  it('no accepted generated query changes the graph', async () => {
    const baseline = await fingerprint(conn);
    let executed = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(runnableQuery, runnableQuery, readPrefixedQuery, fragmentQuery), async (query) => {
        const result = checkReadOnlyCypher(query);
        if (!result.ok) return;
        try {
          await run(conn, result.query);
          executed++;
        } catch {
          // Syntax and binder errors are expected for random input.
        }
        assert.equal(await fingerprint(conn), baseline, `graph changed by ${JSON.stringify(query)}`);
      }),
      { numRuns: 400 },
    );
    assert.ok(executed > 10, `too few generated queries actually ran (${executed})`);
  });
});
