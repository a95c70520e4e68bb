import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import dns from 'node:dns';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchPublicUrl, SsrfProtectionError, type FetchPublicUrlOptions } from '../../src/security/outbound.js';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';
import { STARTUP_MS } from '../../src/storage/cypher-sandbox/sandbox.js';

/**
 * The memory engine's data security controls attacked over real HTTP, on the real server:
 *
 *   - D18: every Cypher clause that writes, reads files, reaches the network or hides behind
 *     comments, strings, backticks, case or Unicode is refused with 400 CypherSearchError and is
 *     provably not run (graph unchanged, no file created, no request received); a read query sees
 *     only the caller's dataset; in multi-tenant mode Cypher is disabled by default.
 *   - D17: local paths handed to add_text are confined to the allowed roots (file:// URIs outside
 *     them are refused with 415 IngestionError; bare paths outside them are plain text, as in the
 *     reference), uploads through /add never read server paths, and in multi-tenant mode local paths
 *     are refused by default.
 *   - D19: URL ingestion refuses loopback, private and link-local hosts in every spelling and host
 *     names resolving to them, before any connection (a counting loopback server receives nothing).
 *   - D16: two tenants holding the same dataset name and the same documents never see each other's
 *     content through any read route, and a user in both sees only the active tenant.
 *
 * Each runs in multi-tenant mode and in single-user mode with authentication forced on (the storage
 * modes of memory.test.ts); on SQLite and on PostgreSQL (ENGRAM_TEST_DB).
 *
 * Outbound safety of this file: the only addresses ever connected to are on 127.0.0.0/8 or ::1.
 * Private-range URLs are only ever handed to the server's guard, which refuses them before
 * connecting; host names are answered by a test resolver with loopback addresses only.
 */

const DOC = 'Ada Lovelace worked with Charles Babbage in London in 1843.\n\nBabbage designed the Analytical Engine.';
const MARK_A = 'The alpha vault code is Aquamarine.';
const MARK_B = 'The bravo vault code is Burgundy.';
const EXTRA_B = 'Cats purr when they are content.\n\nGrace Hopper wrote the first compiler in Philadelphia.';

// ------------------------------------------------------------------------------------------------
// A counting HTTP server on loopback (IPv4 and, when available, IPv6): proves no request reached it.

interface CountingServer {
  readonly port: number;
  readonly port6: number | undefined;
  readonly hits: string[];
  close(): Promise<void>;
}

async function startCountingServer(): Promise<CountingServer> {
  const hits: string[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    hits.push(`${req.method} ${req.headers.host} ${req.url}`);
    if (req.url?.startsWith('/redirect')) {
      res.writeHead(302, { location: `http://127.0.0.1:${v4Port}/target` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('COUNTING-SERVER-BODY');
  };
  const v4 = http.createServer(handler);
  await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
  const v4Port = (v4.address() as AddressInfo).port;
  const v6 = http.createServer(handler);
  const port6 = await new Promise<number | undefined>((resolve) => {
    v6.once('error', () => resolve(undefined));
    v6.listen(0, '::1', () => resolve((v6.address() as AddressInfo).port));
  });
  const closeOne = (s: http.Server) =>
    new Promise<void>((resolve) => {
      if (!s.listening) return resolve();
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return { port: v4Port, port6, hits, close: async () => void (await Promise.all([closeOne(v4), closeOne(v6)])) };
}

/**
 * Test answers for host names, handed to the in-process server's resolver (`dns.promises.lookup`).
 * Every answer is loopback, so even a broken guard could only ever connect to this machine.
 */
const FAKE_DNS: Record<string, string[]> = {
  'loopback-alias.test': ['127.0.0.1'],
  'loopback6-alias.test': ['::1'],
  'mapped-alias.test': ['::ffff:127.0.0.1'],
  'loopback-first.test': ['127.0.0.1', '93.184.216.34'],
};

function installFakeDns(): () => void {
  const original = dns.promises.lookup;
  const fake = (async (host: string, options?: unknown) => {
    const answer = FAKE_DNS[host.toLowerCase()];
    if (answer) return answer.map((address) => ({ address, family: isIP(address) }));
    return (original as (h: string, o?: unknown) => Promise<unknown>)(host, options);
  }) as typeof dns.promises.lookup;
  dns.promises.lookup = fake;
  return () => {
    dns.promises.lookup = original;
  };
}

// ------------------------------------------------------------------------------------------------
// Actors and small helpers

const actor = signUpActor;

/** A graph as the API shows it, sorted, for exact before/after comparison. */
async function graphOf(a: Actor, datasetId: string): Promise<{ nodes: any[]; edges: any[] }> {
  const r = await a.c.get(`/api/v1/datasets/${datasetId}/graph`, asActor(a));
  assert.equal(r.status, 200, r.text);
  const key = (x: unknown) => JSON.stringify(x);
  return { nodes: [...r.body.nodes].sort((x, y) => key(x).localeCompare(key(y))), edges: [...r.body.edges].sort((x, y) => key(x).localeCompare(key(y))) };
}

async function dataOf(a: Actor, datasetId: string): Promise<any[]> {
  const r = await a.c.get(`/api/v1/datasets/${datasetId}/data`, asActor(a));
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** The rows of a search over one named dataset, whichever envelope the mode answers with. */
function rowsOf(body: any, multiTenant: boolean, datasetId: string): any[] {
  if (!multiTenant) return body;
  assert.ok(Array.isArray(body), JSON.stringify(body));
  assert.deepEqual(
    body.map((r: any) => r.dataset_id),
    [datasetId],
  );
  return body[0].search_result;
}

const CYPHER_REFUSED = /^The Cypher query was refused: .+ \[CypherSearchError\]$/;
const CYPHER_FAILED = 'An error occurred during the execution of the Cypher query. [CypherSearchError]';
const CYPHER_DISABLED = { detail: 'Unsupported search type: Cypher query search types are disabled. [UnsupportedSearchTypeError]' };

// ------------------------------------------------------------------------------------------------

let counting: CountingServer;
let restoreDns: () => void;
before(async () => {
  counting = await startCountingServer();
  restoreDns = installFakeDns();
});
after(async () => {
  restoreDns();
  await counting.close();
});

for (const multiTenant of [true, false]) {
  const mode = multiTenant ? 'multi-tenant' : 'single-user, auth forced on';

  describe(`memory attacks over HTTP (${mode}; Cypher and local paths switched on)`, () => {
    let server: TestServer;
    /** Files the attacks aim at: `allowed/` is the one allowed root, `outside/` lies beside it. */
    let fsRoot: string;
    let ownerA: Actor;
    let ownerB: Actor;
    let memberA: Actor;
    let memberB: Actor;
    let both: Actor;
    let tenantA: string;
    let tenantB: string;
    let dsA: string;
    let dsB: string;
    let dataA: string[];
    let dataB: string[];

    before(async () => {
      fsRoot = mkdtempSync(join(tmpdir(), 'engram-attacks-'));
      mkdirSync(join(fsRoot, 'allowed'));
      mkdirSync(join(fsRoot, 'outside'));
      writeFileSync(join(fsRoot, 'allowed', 'inside.txt'), 'Inside the allowed root the lighthouse keeper logs the tide.');
      writeFileSync(join(fsRoot, 'allowed', 'inside-uri.txt'), 'Inside the allowed root the ferry leaves at dawn.');
      writeFileSync(join(fsRoot, 'outside', 'secret.txt'), 'OUTSIDE-SECRET-7f3a9c never leaves this directory.');
      symlinkSync(join(fsRoot, 'outside', 'secret.txt'), join(fsRoot, 'allowed', 'link-out.txt'));
      symlinkSync(join(fsRoot, 'outside'), join(fsRoot, 'allowed', 'dir-out'));

      server = await startTestServer({
        env: {
          ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant),
          REQUIRE_AUTHENTICATION: 'true',
          ALLOW_CYPHER_QUERY: 'true',
          ACCEPT_LOCAL_FILE_PATH: 'true',
          COGNEE_ALLOWED_LOCAL_FILE_ROOTS: join(fsRoot, 'allowed'),
          CYPHER_MAX_ROWS: '100',
          CYPHER_TIMEOUT_MS: '1000',
        },
      });

      // Two tenants, each created by its owner, each with a member and a dataset named "shared"
      // holding the same document (plus one marker sentence each; B holds one more document).
      ownerA = await actor(server, 'owner-a');
      ownerB = await actor(server, 'owner-b');
      memberA = await actor(server, 'member-a');
      memberB = await actor(server, 'member-b');
      both = await actor(server, 'both');
      const newTenant = async (a: Actor, name: string) => {
        const r = await a.c.post(`/api/v1/permissions/tenants?tenant_name=${name}`, asActor(a));
        assert.equal(r.status, 200, r.text);
        return r.body.tenant_id as string;
      };
      tenantA = await newTenant(ownerA, `alpha-${randomBytes(3).toString('hex')}`);
      tenantB = await newTenant(ownerB, `bravo-${randomBytes(3).toString('hex')}`);
      for (const [owner, tenant, members] of [
        [ownerA, tenantA, [memberA, both]],
        [ownerB, tenantB, [memberB, both]],
      ] as const) {
        for (const m of members) {
          const added = await owner.c.post(`/api/v1/permissions/users/${m.id}/tenants?tenant_id=${tenant}`, asActor(owner));
          assert.equal(added.status, 200, added.text);
        }
      }
      for (const [m, tenant] of [
        [memberA, tenantA],
        [memberB, tenantB],
        [both, tenantA],
      ] as const) {
        const selected = await m.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenant }, ...asActor(m) });
        assert.equal(selected.status, 200, selected.text);
      }

      const fill = async (owner: Actor, tenant: string, texts: string[]) => {
        const added = await owner.c.post('/api/v1/add_text', { json: { textData: texts, datasetName: 'shared' }, ...asActor(owner) });
        assert.equal(added.status, 200, added.text);
        const ds = added.body.dataset_id as string;
        const cognified = await owner.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(owner) });
        assert.equal(cognified.status, 200, cognified.text);
        // The tenant's members may read it.
        const shared = await owner.c.post(`/api/v1/permissions/datasets/${tenant}?permission_name=read`, { json: [ds], ...asActor(owner) });
        assert.equal(shared.status, 200, shared.text);
        return { ds, data: (added.body.data_ingestion_info as { data_id: string }[]).map((d) => d.data_id) };
      };
      ({ ds: dsA, data: dataA } = await fill(ownerA, tenantA, [DOC, MARK_A]));
      ({ ds: dsB, data: dataB } = await fill(ownerB, tenantB, [DOC, MARK_B, EXTRA_B]));
      assert.notEqual(dsA, dsB);
    });

    after(async () => {
      await server.close();
      rmSync(fsRoot, { recursive: true, force: true });
    });

    // --------------------------------------------------------------------------------------------
    // D18

    it('D18: every write, file, extension and multi-statement Cypher trick is refused with 400 CypherSearchError and never runs', async () => {
      const exfil = (name: string) => join(fsRoot, 'outside', name);
      const net = `http://127.0.0.1:${counting.port}`;
      /** [query, how it must be refused: a reason pattern of the gate, or 'execution' for a query the graph engine rejects]. */
      const attacks: [string, RegExp | 'execution'][] = [
        // Clauses that write.
        [`CREATE (:Node {pk: 'pwned', id: 'pwned', dataset_id: '${dsA}', name: 'pwned', type: 'Entity'})`, /clause CREATE/],
        [`MERGE (n:Node {pk: 'pwned'}) RETURN n`, /clause MERGE/],
        [`MATCH (n:Node) SET n.name = 'pwned' RETURN n.name`, /clause SET/],
        [`MATCH (n:Node) DELETE n`, /clause DELETE/],
        [`MATCH (n:Node) DETACH DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) REMOVE n.name RETURN n`, /clause REMOVE/],
        [`MATCH (a:Node)-[e:EDGE]->(b:Node) DELETE e`, /clause DELETE/],
        [`MATCH (n:Node) FOREACH (x IN [1] | SET n.name = 'pwned')`, /clause (FOREACH|SET)/],
        // Schema, transactions, databases.
        [`DROP TABLE EDGE`, /clause DROP/],
        [`ALTER TABLE Node ADD pwned STRING`, /clause ALTER/],
        [`BEGIN TRANSACTION`, /clause BEGIN/],
        [`CHECKPOINT`, /clause CHECKPOINT/],
        [`ATTACH '${exfil('attached.kuzu')}' AS other (dbtype kuzu)`, /clause ATTACH/],
        [`USE other`, /clause USE/],
        [`EXPORT DATABASE '${exfil('exported')}'`, /clause EXPORT/],
        [`IMPORT DATABASE '${exfil('exported')}'`, /clause IMPORT/],
        // Files and the network.
        [`COPY Node TO '${exfil('nodes.csv')}'`, /clause COPY/],
        [`COPY (MATCH (n:Node) RETURN n.name) TO '${exfil('names.csv')}'`, /clause COPY/],
        [`COPY Node FROM '${net}/nodes.csv'`, /clause COPY/],
        [`LOAD FROM '/etc/passwd' (header = false) RETURN *`, /clause LOAD/],
        [`LOAD WITH HEADERS (line STRING) FROM '/etc/passwd' RETURN *`, /clause LOAD/],
        [`LOAD FROM '${net}/data.csv' RETURN *`, /clause LOAD/],
        [`MATCH (n:Node) RETURN n.name UNION LOAD FROM '/etc/passwd' RETURN *`, /clause LOAD/],
        [`LOAD EXTENSION '${exfil('ext.so')}'`, /clause LOAD/],
        [`INSTALL httpfs FROM '${net}/extensions/'`, /clause INSTALL/],
        [`UNINSTALL httpfs`, /clause UNINSTALL/],
        [`RETURN read_csv('/etc/passwd')`, /function read_csv/],
        [`MATCH (n) RETURN \`load_from\`('/etc/passwd')`, /function load_from/],
        [`MATCH (n) WHERE n.name = 'x' RETURN n.name FROM '/etc/passwd'`, /file reads/],
        // Procedures that are not read-only.
        [`CALL create_fts_index('Node', 'pwned', ['name'])`, /CALL is only allowed/],
        [`CALL threads = 1`, /CALL is only allowed/],
        [`CALL clear_warnings()`, /CALL is only allowed/],
        [`MATCH (n) WITH n CALL drop_fts_index('Node', 'x') RETURN n`, /CALL is only allowed/],
        // Several statements.
        [`MATCH (n:Node) RETURN count(n); MATCH (n:Node) DETACH DELETE n`, /single statement/],
        [`RETURN 1;CREATE (:Node {pk: 'pwned'})`, /single statement/],
        [`RETURN 1 ; ; `, /single statement/],
        [`RETURN 1;\nRETURN 2`, /single statement/],
        // Comments that hide, split or swallow clauses.
        [`MATCH (n:Node) /* harmless */ DETACH /* still harmless */ DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) DE/**/TACH DE/**/LETE n`, /clause DETACH/],
        [`MATCH (n:Node) CRE/* split */ATE (:Node {pk: 'pwned'})`, /clause CREATE/],
        [`// a comment line\nCREATE (:Node {pk: 'pwned'})`, /clause CREATE/],
        [`MATCH (n:Node) RETURN n.name // trailing\n; MATCH (n:Node) DETACH DELETE n`, /single statement/],
        [`MATCH (n:Node) RETURN n.name /* ; */ ; DETACH DELETE n`, /single statement/],
        [`MATCH (n:Node) /* unterminated DETACH DELETE n`, /unterminated comment/],
        // String-literal tricks: the gate and the graph engine must agree on where a string ends.
        [`MATCH (n:Node) WHERE n.name = 'x' DETACH DELETE n RETURN 'y'`, /clause DETACH/],
        [`MATCH (n:Node) WHERE n.name = 'it\\'s' DETACH DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) WHERE n.name = "say \\"hi\\"" SET n.name = 'pwned'`, /clause SET/],
        [`MATCH (n:Node) WHERE n.name = 'x\\' DETACH DELETE n //'`, 'execution'],
        [`MATCH (n:Node) WHERE n.name = 'a'' DETACH DELETE n //'`, 'execution'],
        [`MATCH (n:Node) WHERE n.name = 'unterminated DETACH DELETE n`, /unterminated string/],
        // Backtick tricks.
        [`MATCH (n:\`Node\`) DETACH DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) WITH n AS \`a\`\`\` DETACH DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) RETURN \`n DETACH DELETE n`, /unterminated quoted identifier/],
        [`\`MATCH\` (n:Node) DETACH DELETE n`, /clause DETACH/],
        // Case games.
        [`cReAtE (:Node {pk: 'pwned'})`, /clause CREATE/],
        [`match (n:Node) dEtAcH dElEtE n`, /clause DETACH/],
        [`MATCH (n:Node) sEt n.name = 'pwned'`, /clause SET/],
        [`lOaD FROM '/etc/passwd' RETURN *`, /clause LOAD/],
        [`iNsTaLl httpfs FROM '${net}/extensions/'`, /clause INSTALL/],
        // Unicode: invisible characters, look-alikes, other whitespace.
        [`MATCH (n:Node) DE\u200BTACH DELETE n`, /control or invisible/],
        [`MATCH (n:Node) DETACH\u200DDELETE n`, /control or invisible/],
        [`\uFEFFCREATE (:Node {pk: 'pwned'})`, /control or invisible/],
        [`MATCH (n:Node) DE\u00ADLETE n`, /control or invisible/],
        [`MATCH (n:Node)\u0007 DETACH DELETE n`, /control or invisible/],
        [`MATCH (n:Node) DETACH\u001FDELETE n`, /clause DETACH/],
        [`MATCH (n:Node) DE\u2060LETE n`, /control or invisible/],
        [`MATCH (n:Node) \u202EETELED HCATED n`, /control or invisible/],
        [`\uFF23\uFF32\uFF25\uFF21\uFF34\uFF25 (:Node {pk: 'pwned'})`, /clause CREATE/],
        [`MATCH (n:Node) \uFF24\uFF25\uFF34\uFF21\uFF23\uFF28 \uFF24\uFF25\uFF2C\uFF25\uFF34\uFF25 n`, /clause DETACH/],
        [`MATCH (n:Node) DETACH\u00A0DELETE n`, /clause DETACH/],
        [`MATCH (n:Node)\u3000DETACH\u2028DELETE n`, /clause DETACH/],
        [`\u0421REATE (:Node {pk: 'pwned'})`, /must start with/],
        [`MATCH (n:Node) S\u0415T n.name = 'pwned'`, 'execution'],
        [`MATCH (n:Node) éDETACH DELETE n`, /clause DETACH/],
        [`MATCH (n:Node) DETACH_DELETE n`, 'execution'],
      ];

      const before = await graphOf(ownerA, dsA);
      const beforeB = await graphOf(ownerB, dsB);
      assert.ok(before.nodes.length > 0 && before.edges.length > 0, 'the dataset has a graph to protect');
      const hitsBefore = counting.hits.length;

      for (const [query, expected] of attacks) {
        const r = await ownerA.c.post('/api/v1/search', { json: { search_type: 'CYPHER', query, datasetIds: [dsA] }, ...asActor(ownerA) });
        const label = JSON.stringify(query);
        assert.equal(r.status, 400, `${label}: ${r.text}`);
        assert.deepEqual(Object.keys(r.body), ['detail'], `${label}: ${r.text}`);
        if (expected === 'execution') assert.equal(r.body.detail, CYPHER_FAILED, label);
        else {
          assert.match(r.body.detail, CYPHER_REFUSED, label);
          assert.match(r.body.detail, expected, label);
        }
        assert.ok(!r.text.includes('root:'), `${label}: no file content in the answer`);
      }

      // A NUL character never gets as far as the gate: the request guard refuses it.
      const nul = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'CYPHER', query: 'MATCH (n:Node)\u0000 DETACH DELETE n', datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.deepEqual(
        [nul.status, nul.body],
        [400, { detail: [{ type: 'string_nul', loc: ['body', 'query'], msg: 'NUL characters are not allowed' }], body: null }],
      );

      // Not run: the graph (as the API shows it and as Cypher sees it) is unchanged, no file was
      // written, nothing reached the network.
      assert.deepEqual(await graphOf(ownerA, dsA), before);
      assert.deepEqual(await graphOf(ownerB, dsB), beforeB, "another tenant's graph is untouched too");
      const names = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'CYPHER', query: 'MATCH (n:Node) RETURN n.name AS name', datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.equal(names.status, 200, names.text);
      const rows = rowsOf(names.body, multiTenant, dsA);
      assert.equal(rows.length, before.nodes.length, 'Cypher still sees every node');
      assert.ok(!rows.some((row: { name: string }) => row.name === 'pwned'));
      assert.deepEqual(readdirSync(join(fsRoot, 'outside')), ['secret.txt'], 'no file was created by COPY, EXPORT or ATTACH');
      assert.equal(counting.hits.length, hitsBefore, 'no request reached the loopback server');

      // Recall routes Cypher-looking text to CYPHER and passes the same gate.
      const recalled = await ownerA.c.post('/api/v1/recall', {
        json: { query: 'MATCH (n:Node) DETACH DELETE n', searchType: null, datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.equal(recalled.status, 400, recalled.text);
      assert.match(recalled.body.detail, /clause DETACH.*\[CypherSearchError\]$/);
      const lucky = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'FEELING_LUCKY', query: "CREATE (:Node {pk: 'pwned'})", datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.equal(lucky.status, 400, lucky.text);
      assert.match(lucky.body.detail, /clause CREATE.*\[CypherSearchError\]$/);
      assert.deepEqual(await graphOf(ownerA, dsA), before);
    });

    it("D18: a read query returns rows from the caller's dataset only; another tenant's identical dataset is never visible", async () => {
      const graphA = await graphOf(ownerA, dsA);
      const graphB = await graphOf(ownerB, dsB);
      assert.notEqual(graphA.nodes.length, graphB.nodes.length, 'the two graphs can be told apart by size');
      const cypher = (a: Actor, query: string, datasetIds?: string[]) =>
        a.c.post('/api/v1/search', { json: { search_type: 'CYPHER', query, ...(datasetIds ? { datasetIds } : {}) }, ...asActor(a) });

      const all = await cypher(ownerA, 'MATCH (n) RETURN n.name', [dsA]);
      assert.equal(all.status, 200, all.text);
      const rows = rowsOf(all.body, multiTenant, dsA);
      assert.equal(rows.length, graphA.nodes.length, 'as many rows as the own graph has nodes');
      const names: string[] = rows.map((row: Record<string, unknown>) => String(row['n.name']));
      assert.ok(names.includes('aquamarine') && names.includes('ada lovelace'), `tenant A's entities: ${names.join(', ')}`);
      const labels = new Set(graphA.nodes.map((n: { label: string }) => n.label));
      for (const name of names.filter(Boolean)) assert.ok(labels.has(name), `${name} is a node of A's graph`);
      assert.ok(!JSON.stringify(all.body).toLowerCase().includes('burgundy'), "tenant B's marker never appears");
      assert.ok(!JSON.stringify(all.body).toLowerCase().includes('hopper'), "tenant B's extra document never appears");

      // Without naming a dataset: every readable dataset — only tenant A's.
      const distinct = await cypher(ownerA, 'MATCH (n:Node) RETURN DISTINCT n.dataset_id AS d');
      assert.equal(distinct.status, 200, distinct.text);
      assert.ok(!distinct.text.includes(dsB));
      assert.ok(distinct.text.includes(dsA));

      // Naming the other dataset inside the query finds nothing; naming it as a target is 403.
      const reach = await cypher(ownerA, `MATCH (n:Node) WHERE n.dataset_id = '${dsB}' RETURN n.name`, [dsA]);
      assert.equal(reach.status, 200, reach.text);
      assert.deepEqual(rowsOf(reach.body, multiTenant, dsA), []);
      const foreign = await cypher(ownerA, 'MATCH (n) RETURN n.name', [dsB]);
      const unknown = await cypher(ownerA, 'MATCH (n) RETURN n.name', [randomUUID()]);
      assert.deepEqual(
        [foreign.status, foreign.body],
        [403, { detail: 'Request owner does not have necessary permission: [read] for all datasets requested. [PermissionDeniedError]' }],
      );
      assert.deepEqual([unknown.status, unknown.body], [foreign.status, foreign.body], 'a foreign id is answered like an unknown one');

      // The same from B's side: B's rows are B's.
      const own = await cypher(ownerB, 'MATCH (n) RETURN n.name', [dsB]);
      assert.equal(rowsOf(own.body, multiTenant, dsB).length, graphB.nodes.length);
      assert.ok(!own.text.toLowerCase().includes('aquamarine'));

      // Keywords inside strings and backticks do not count; a read-only procedure is allowed.
      const quoted = await cypher(ownerA, "MATCH (n:Node) WHERE n.name <> 'DETACH DELETE n; CREATE' RETURN count(n) AS c", [dsA]);
      assert.equal(quoted.status, 200, quoted.text);
      assert.equal(Number(rowsOf(quoted.body, multiTenant, dsA)[0].c), graphA.nodes.length);
      const procedure = await cypher(ownerA, 'CALL show_tables() RETURN name', [dsA]);
      assert.equal(procedure.status, 200, procedure.text);
      assert.deepEqual(await graphOf(ownerA, dsA), graphA);
    });

    it('D18: a read query is cut at the row limit and stopped at the time limit (CYPHER_MAX_ROWS, CYPHER_TIMEOUT_MS)', async () => {
      const many = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'CYPHER', query: 'UNWIND range(1, 5000) AS x RETURN x', datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.equal(many.status, 200, many.text);
      const rows = rowsOf(many.body, multiTenant, dsA);
      assert.equal(rows.length, 100);
      assert.deepEqual(rows[0], { x: 1 });
      const started = Date.now();
      const slow = await ownerA.c.post('/api/v1/search', {
        // Ten billion rows streamed in little memory: minutes of work unless the limit stops it.
        json: {
          search_type: 'CYPHER',
          query: 'UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 10 RETURN count(*) AS c',
          datasetIds: [dsA],
        },
        ...asActor(ownerA),
      });
      const elapsed = Date.now() - started;
      // The sandbox names the limit hit (test/http/cypher-limits.test.ts covers the others).
      assert.deepEqual(
        [slow.status, slow.body],
        [
          400,
          {
            detail:
              'An error occurred during the execution of the Cypher query: it exceeded its time limit of 1000 ms (CYPHER_TIMEOUT_MS). [CypherSearchError]',
          },
        ],
      );
      // The limit counts from the query's start; the sandbox's start-up has its own allowance (STARTUP_MS).
      assert.ok(elapsed >= 900 && elapsed < 1000 + STARTUP_MS + 3000, `stopped by the 1000 ms limit after ${elapsed} ms`);
      // The store is usable afterwards.
      const after = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'CYPHER', query: 'MATCH (n:Node) RETURN count(n) AS c', datasetIds: [dsA] },
        ...asActor(ownerA),
      });
      assert.equal(after.status, 200, after.text);
    });

    // --------------------------------------------------------------------------------------------
    // D17

    it('D17: file:// paths outside the allowed root are refused with 415 IngestionError and nothing is ingested; bare paths outside it stay text', async () => {
      const created = await ownerA.c.post('/api/v1/add_text', {
        json: { textData: ['A note kept for the local path checks.'], datasetName: 'paths' },
        ...asActor(ownerA),
      });
      assert.equal(created.status, 200, created.text);
      const ds = created.body.dataset_id as string;
      const baseline = await dataOf(ownerA, ds);
      assert.equal(baseline.length, 1);
      const allowed = join(fsRoot, 'allowed');
      const outside = 'Local file path does not name a readable file inside the allowed roots. [IngestionError]';
      const notAFile = 'Local file path does not name a readable file inside the allowed roots. [IngestionError]';

      const refused: [string | string[], string][] = [
        ['file:///etc/passwd', outside],
        ['FILE:///etc/passwd', outside],
        ['  file:///etc/passwd  ', outside],
        ['file://localhost/etc/passwd', outside],
        [`file://${allowed}/../outside/secret.txt`, outside],
        [`file://${allowed}/../../../../../../../../etc/passwd`, outside],
        [`file://${allowed}/%2e%2e/outside/secret.txt`, outside],
        [`file://${allowed}/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd`, outside],
        [`file://${allowed}/..%2Foutside%2Fsecret.txt`, notAFile],
        [`file://${allowed}/link-out.txt`, outside],
        [`file://${allowed}/dir-out/secret.txt`, outside],
        [`file://${allowed}/`, notAFile],
        [`file://${allowed}/missing.txt`, notAFile],
        ['file:///etc/', notAFile],
        [['a harmless sentence that must not be stored either', 'file:///etc/passwd'], outside],
      ];
      for (const [input, detail] of refused) {
        const textData = Array.isArray(input) ? input : [input];
        const r = await ownerA.c.post('/api/v1/add_text', { json: { textData, datasetId: ds }, ...asActor(ownerA) });
        assert.deepEqual([r.status, r.body], [415, { detail }], JSON.stringify(input));
      }
      assert.deepEqual(await dataOf(ownerA, ds), baseline, 'nothing was ingested');

      // A bare path outside the roots is ordinary text (as the reference): the path string is
      // stored, never the file it names.
      const bare = [
        '/etc/passwd',
        `${allowed}/../outside/secret.txt`,
        `${allowed}/link-out.txt`,
        `${allowed}/dir-out/secret.txt`,
        `${allowed}/%2e%2e/outside/secret.txt`,
        `${allowed}/../../../../../../../../etc/passwd`,
      ];
      for (const input of bare) {
        const r = await ownerA.c.post('/api/v1/add_text', { json: { textData: [input], datasetId: ds }, ...asActor(ownerA) });
        assert.equal(r.status, 200, `${input}: ${r.text}`);
        const dataId = r.body.data_ingestion_info[0].data_id as string;
        const raw = await ownerA.c.get(`/api/v1/datasets/${ds}/data/${dataId}/raw`, asActor(ownerA));
        assert.equal(raw.text, input, 'the stored item is the text itself');
      }
      const items = await dataOf(ownerA, ds);
      assert.equal(items.length, baseline.length + bare.length);
      for (const item of items) {
        assert.equal(item.extension, 'txt');
        assert.match(item.name, /^text_[0-9a-f]{32}$/, 'stored as text, not as a file');
        const raw = await ownerA.c.get(`/api/v1/datasets/${ds}/data/${item.id}/raw`, asActor(ownerA));
        assert.ok(!raw.text.includes('OUTSIDE-SECRET') && !raw.text.includes('root:'), 'no outside file content');
      }

      // Positive control: files inside the allowed root are read (as a path and as a file:// URI).
      const inside = await ownerA.c.post('/api/v1/add_text', {
        json: { textData: [join(allowed, 'inside.txt'), `file://${allowed}/inside-uri.txt`], datasetId: ds },
        ...asActor(ownerA),
      });
      assert.equal(inside.status, 200, inside.text);
      const [viaPath, viaUri] = inside.body.data_ingestion_info.map((d: { data_id: string }) => d.data_id) as [string, string];
      assert.equal(
        (await ownerA.c.get(`/api/v1/datasets/${ds}/data/${viaPath}/raw`, asActor(ownerA))).text,
        'Inside the allowed root the lighthouse keeper logs the tide.',
      );
      assert.equal(
        (await ownerA.c.get(`/api/v1/datasets/${ds}/data/${viaUri}/raw`, asActor(ownerA))).text,
        'Inside the allowed root the ferry leaves at dawn.',
      );
      const names = (await dataOf(ownerA, ds)).map((d) => d.name);
      assert.ok(names.includes('inside') && names.includes('inside-uri'), names.join(','));
    });

    it('D17: /add stores the uploaded bytes whatever the file name or content says; no server path is read or written', async () => {
      const escape = `${'../'.repeat(24)}${fsRoot.slice(1)}/outside/escaped.txt`;
      const r = await upload(server, ownerA, { datasetName: 'uploads' }, [
        { name: '/etc/passwd', text: 'uploaded bytes named like a system file' },
        { name: escape, text: 'uploaded bytes with a traversing name' },
        { name: 'pointer.txt', text: 'file:///etc/passwd' },
        { name: 'bare.txt', text: join(fsRoot, 'outside', 'secret.txt') },
      ]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const ds = r.body.dataset_id as string;
      const ids = (r.body.data_ingestion_info as { data_id: string }[]).map((d) => d.data_id);
      const expected = [
        'uploaded bytes named like a system file',
        'uploaded bytes with a traversing name',
        'file:///etc/passwd',
        join(fsRoot, 'outside', 'secret.txt'),
      ];
      for (const [i, id] of ids.entries()) {
        const raw = await ownerA.c.get(`/api/v1/datasets/${ds}/data/${id}/raw`, asActor(ownerA));
        assert.equal(raw.text, expected[i]);
      }
      assert.ok(!existsSync(join(fsRoot, 'outside', 'escaped.txt')), 'a traversing file name writes nothing outside the data root');
      for (const item of await dataOf(ownerA, ds)) assert.ok(String(item.rawDataLocation).startsWith(`file://${server.root}/data/`), item.rawDataLocation);
      // Cognify reads the stored copies only.
      const cognified = await ownerA.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(ownerA) });
      assert.equal(cognified.status, 200, cognified.text);
      const chunks = await ownerA.c.post('/api/v1/search', {
        json: { search_type: 'CHUNKS_LEXICAL', query: 'root secret passwd', datasetIds: [ds], topK: 50 },
        ...asActor(ownerA),
      });
      assert.equal(chunks.status, 200, chunks.text);
      assert.ok(!chunks.text.includes('root:') && !chunks.text.includes('OUTSIDE-SECRET'), chunks.text);
    });

    // --------------------------------------------------------------------------------------------
    // D19

    it('D19: URL ingestion refuses loopback, private and link-local hosts in every spelling with 403 SSRFProtectionError, before connecting', async () => {
      const created = await ownerA.c.post('/api/v1/add_text', {
        json: { textData: ['A note kept for the outbound checks.'], datasetName: 'urls' },
        ...asActor(ownerA),
      });
      assert.equal(created.status, 200, created.text);
      const ds = created.body.dataset_id as string;
      const baseline = await dataOf(ownerA, ds);
      const p = counting.port;
      const blocked = (host: string) => `URL host '${host}' points to a non-public address and is blocked. [SSRFProtectionError]`;
      const resolved = (
        host: string,
        _address: string, // the resolved address is never named
      ) => `URL host '${host}' resolves to a non-public address and is blocked. [SSRFProtectionError]`;

      // Loopback, aimed at the counting server: a guard that let one through would be seen.
      const loopback: [string, string][] = [
        [`http://127.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`https://127.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`http://127.0.0.1:${p}/redirect`, blocked('127.0.0.1')],
        [`http://127.1:${p}/`, blocked('127.0.0.1')],
        [`http://2130706433:${p}/`, blocked('127.0.0.1')],
        [`http://0x7f000001:${p}/`, blocked('127.0.0.1')],
        [`http://017700000001:${p}/`, blocked('127.0.0.1')],
        [`http://0x7f.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`http://0177.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`http://0.0.0.0:${p}/`, blocked('0.0.0.0')],
        [`http://0:${p}/`, blocked('0.0.0.0')],
        [`http://[::1]:${counting.port6 ?? p}/`, blocked('::1')],
        [`http://[0:0:0:0:0:0:0:1]:${counting.port6 ?? p}/`, blocked('::1')],
        [`http://[::ffff:127.0.0.1]:${p}/`, blocked('::ffff:7f00:1')],
        [`http://[::ffff:7f00:1]:${p}/`, blocked('::ffff:7f00:1')],
        [`http://[::]:${p}/`, blocked('::')],
        [`http://user:pass@127.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`http://public.example@127.0.0.1:${p}/`, blocked('127.0.0.1')],
        [`HTTP://127.0.0.1:${p}/upper`, blocked('127.0.0.1')],
        [`http://localhost:${p}/`, resolved('localhost', '127.0.0.1')],
        [`http://LOCALHOST:${p}/`, resolved('localhost', '127.0.0.1')],
        [`http://loopback-alias.test:${p}/`, resolved('loopback-alias.test', '127.0.0.1')],
        [`http://loopback6-alias.test:${counting.port6 ?? p}/`, resolved('loopback6-alias.test', '::1')],
        [`http://mapped-alias.test:${p}/`, resolved('mapped-alias.test', '::ffff:127.0.0.1')],
        [`http://loopback-first.test:${p}/`, resolved('loopback-first.test', '127.0.0.1')],
      ];
      // Private and link-local ranges: only ever handed to the guard, which must refuse them.
      const privateRanges: [string, string][] = [
        ['http://10.0.0.1/', blocked('10.0.0.1')],
        ['http://10.255.255.254:8080/admin', blocked('10.255.255.254')],
        ['http://172.16.0.1/', blocked('172.16.0.1')],
        ['http://172.31.255.254/', blocked('172.31.255.254')],
        ['http://192.168.0.1/', blocked('192.168.0.1')],
        ['http://192.168.1.1/', blocked('192.168.1.1')],
        ['http://169.254.169.254/latest/meta-data/', blocked('169.254.169.254')],
        ['http://2852039166/latest/meta-data/', blocked('169.254.169.254')],
        ['http://0xa9fea9fe/', blocked('169.254.169.254')],
        ['http://[::ffff:169.254.169.254]/', blocked('::ffff:a9fe:a9fe')],
        ['http://[::ffff:10.0.0.1]/', blocked('::ffff:a00:1')],
        ['http://[fd00::1]/', blocked('fd00::1')],
        ['http://[fe80::1]/', blocked('fe80::1')],
        ['http://100.64.0.1/', blocked('100.64.0.1')],
      ];
      for (const [url, detail] of [...loopback, ...privateRanges]) {
        const r = await ownerA.c.post('/api/v1/add_text', { json: { textData: [url], datasetId: ds }, ...asActor(ownerA) });
        assert.deepEqual([r.status, r.body], [403, { detail }], url);
      }
      // A refused URL in a batch refuses the whole batch.
      const batch = await ownerA.c.post('/api/v1/add_text', {
        json: { textData: ['harmless text in a batch', `http://127.0.0.1:${p}/`], datasetId: ds },
        ...asActor(ownerA),
      });
      assert.equal(batch.status, 403, batch.text);

      assert.deepEqual(counting.hits, [], 'no request reached the loopback server');
      assert.deepEqual(await dataOf(ownerA, ds), baseline, 'nothing was ingested');
    });

    // --------------------------------------------------------------------------------------------
    // D16

    it("D16: a member of tenant A gets only tenant A's content from every read route; naming tenant B's dataset is 403 like an unknown id", async () => {
      const m = memberA;
      const foreignAndUnknown = async (
        request: (id: string, dataId: string) => Promise<{ status: number; body: unknown; text: string }>,
        expectedStatus = 403,
      ) => {
        const foreign = await request(dsB, dataB[0]!);
        const unknown = await request(randomUUID(), randomUUID());
        assert.equal(foreign.status, expectedStatus, foreign.text);
        assert.deepEqual([unknown.status, unknown.body], [foreign.status, foreign.body], 'a foreign id is answered like an unknown one');
        if (expectedStatus === 403)
          assert.deepEqual(foreign.body, {
            detail: 'Request owner does not have necessary permission: [read] for all datasets requested. [PermissionDeniedError]',
          });
        return foreign;
      };
      const leakFree = (text: string, label: string) => {
        const lower = text.toLowerCase();
        assert.ok(
          !lower.includes('burgundy') && !lower.includes('hopper') && !lower.includes('purr'),
          `${label}: no content of tenant B: ${text.slice(0, 500)}`,
        );
        assert.ok(!text.includes(dsB) && !dataB.some((id) => text.includes(id)), `${label}: no id of tenant B`);
      };

      // Datasets list.
      const list = await m.c.get('/api/v1/datasets', asActor(m));
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        list.body.map((d: { id: string }) => d.id),
        [dsA],
      );
      assert.equal(list.body[0].tenantId, tenantA);

      // Search: every served type, with only_context, over everything readable and over dsA.
      const types: [string, string][] = [
        ['CHUNKS', 'What is the vault code?'],
        ['SUMMARIES', 'What is the vault code?'],
        ['CHUNKS_LEXICAL', 'vault code'],
        ['RAG_COMPLETION', 'What is the vault code?'],
        ['GRAPH_COMPLETION', 'What is the vault code?'],
        ['HYBRID_COMPLETION', 'What is the vault code?'],
        ['GRAPH_SUMMARY_COMPLETION', 'What is the vault code?'],
        ['FEELING_LUCKY', 'What is the vault code?'],
        ['CYPHER', 'MATCH (n:Node) RETURN n.name AS name, n.dataset_id AS d'],
      ];
      for (const [searchType, query] of types) {
        for (const scope of [{}, { datasetIds: [dsA] }, { datasets: ['shared'] }]) {
          const r = await m.c.post('/api/v1/search', { json: { searchType, query, onlyContext: true, topK: 50, ...scope }, ...asActor(m) });
          const label = `${searchType} ${JSON.stringify(scope)}`;
          if ('datasets' in scope) {
            // By name, only the caller's own datasets count: the member owns none.
            assert.deepEqual([r.status, r.body], [404, { detail: 'No datasets found. [DatasetNotFoundError]' }], label);
            continue;
          }
          assert.equal(r.status, 200, `${label}: ${r.text}`);
          leakFree(r.text, label);
          if (multiTenant)
            assert.deepEqual(
              r.body.map((x: { dataset_id: string }) => x.dataset_id),
              [dsA],
              label,
            );
          if (['CHUNKS', 'CHUNKS_LEXICAL', 'RAG_COMPLETION', 'CYPHER'].includes(searchType)) {
            assert.ok(r.text.toLowerCase().includes('aquamarine'), `${label}: tenant A's own content is found: ${r.text.slice(0, 300)}`);
          }
        }
        await foreignAndUnknown((id) => m.c.post('/api/v1/search', { json: { searchType, query, onlyContext: true, datasetIds: [id] }, ...asActor(m) }));
      }
      const natural = await m.c.post('/api/v1/search', {
        json: { searchType: 'NATURAL_LANGUAGE', query: 'What is the vault code?', datasetIds: [dsA] },
        ...asActor(m),
      });
      assert.deepEqual(
        [natural.status, natural.body],
        [400, { detail: 'NATURAL_LANGUAGE search needs a language model; set LLM_API_KEY. [SearchTypeNotSupported]' }],
      );

      // Recall.
      for (const scope of [{}, { datasetIds: [dsA] }]) {
        const r = await m.c.post('/api/v1/recall', { json: { query: 'What is the vault code?', onlyContext: true, ...scope }, ...asActor(m) });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.length > 0);
        assert.deepEqual([...new Set(r.body.map((e: { dataset_id: string }) => e.dataset_id))], [dsA]);
        leakFree(r.text, `recall ${JSON.stringify(scope)}`);
      }
      await foreignAndUnknown((id) => m.c.post('/api/v1/recall', { json: { query: 'What is the vault code?', datasetIds: [id] }, ...asActor(m) }));

      // Data list, raw download, graph.
      const data = await m.c.get(`/api/v1/datasets/${dsA}/data`, asActor(m));
      assert.equal(data.status, 200, data.text);
      assert.deepEqual(data.body.map((d: { id: string }) => d.id).sort(), [...dataA].sort());
      leakFree(data.text, 'data');
      await foreignAndUnknown((id) => m.c.get(`/api/v1/datasets/${id}/data`, asActor(m)));
      const raws = await Promise.all(dataA.map((id) => m.c.get(`/api/v1/datasets/${dsA}/data/${id}/raw`, asActor(m))));
      assert.deepEqual(raws.map((r) => r.text).sort(), [DOC, MARK_A].sort());
      await foreignAndUnknown((id, dataId) => m.c.get(`/api/v1/datasets/${id}/data/${dataId}/raw`, asActor(m)));
      const mixed = await m.c.get(`/api/v1/datasets/${dsA}/data/${dataB[0]}/raw`, asActor(m));
      assert.deepEqual(
        [mixed.status, mixed.body],
        [404, { detail: `Data ${dataB[0]} not found in dataset ${dsA}. [DataNotFoundError]` }],
        "tenant B's item is not reachable through tenant A's dataset",
      );
      const graph = await m.c.get(`/api/v1/datasets/${dsA}/graph`, asActor(m));
      assert.equal(graph.status, 200, graph.text);
      assert.ok(graph.body.nodes.length > 0);
      leakFree(graph.text, 'graph');
      assert.deepEqual(await graphOf(m, dsA), await graphOf(ownerA, dsA));
      await foreignAndUnknown((id) => m.c.get(`/api/v1/datasets/${id}/graph`, asActor(m)));

      // Graph summary and status.
      const summary = await m.c.get('/api/v1/datasets/graph-summary', asActor(m));
      assert.equal(summary.status, 200, summary.text);
      assert.deepEqual(
        summary.body.map((s: { datasetId: string }) => s.datasetId),
        [dsA],
      );
      assert.equal(summary.body[0].numNodes, graph.body.nodes.length);
      await foreignAndUnknown((id) => m.c.get(`/api/v1/datasets/graph-summary?dataset_ids=${id}`, asActor(m)));
      const status = await m.c.get('/api/v1/datasets/status', asActor(m));
      assert.deepEqual([status.status, status.body], [200, { [dsA]: 'DATASET_PROCESSING_COMPLETED' }]);
      // The status route answers every failure with the reference's 409.
      const statusForeign = await foreignAndUnknown((id) => m.c.get(`/api/v1/datasets/status?dataset=${id}`, asActor(m)), 409);
      assert.deepEqual(statusForeign.body, { error: 'Unable to retrieve dataset statuses.' });

      // Search history: the member's own queries only, and nothing of tenant B in it.
      const marker = `bravo-only-query-${randomBytes(4).toString('hex')}`;
      assert.equal(
        (await ownerB.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: marker, datasetIds: [dsB] }, ...asActor(ownerB) })).status,
        200,
      );
      for (const path of ['/api/v1/search', '/api/v1/recall']) {
        const history = await m.c.get(path, asActor(m));
        assert.equal(history.status, 200, history.text);
        assert.ok(
          history.body.some((h: { text: string }) => h.text === 'What is the vault code?'),
          'the own queries are there',
        );
        assert.ok(!history.text.includes(marker), "another user's query is not");
        leakFree(history.text, `history ${path}`);
        for (const h of history.body) assert.ok(h.datasetId === null || h.datasetId === dsA, JSON.stringify(h));
      }

      // And the other way round: tenant B's member sees tenant B only.
      const listB = await memberB.c.get('/api/v1/datasets', asActor(memberB));
      assert.deepEqual(
        listB.body.map((d: { id: string }) => d.id),
        [dsB],
      );
      const chunksB = await memberB.c.post('/api/v1/search', {
        json: { searchType: 'CHUNKS', query: 'What is the vault code?', onlyContext: true, topK: 50 },
        ...asActor(memberB),
      });
      assert.ok(chunksB.text.toLowerCase().includes('burgundy') && !chunksB.text.toLowerCase().includes('aquamarine'), chunksB.text);
      assert.equal((await memberB.c.get(`/api/v1/datasets/${dsA}/graph`, asActor(memberB))).status, 403);
    });

    it('D16: a user in both tenants sees only the active tenant; selecting the other switches what every read route shows', async () => {
      const u = both;
      const select = async (tenant: string | null) => {
        const r = await u.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenant }, ...asActor(u) });
        assert.equal(r.status, 200, r.text);
      };
      const view = async () => {
        const list = await u.c.get('/api/v1/datasets', asActor(u));
        const chunks = await u.c.post('/api/v1/search', {
          json: { searchType: 'CHUNKS', query: 'What is the vault code?', onlyContext: true, topK: 50 },
          ...asActor(u),
        });
        const recall = await u.c.post('/api/v1/recall', { json: { query: 'What is the vault code?', onlyContext: true }, ...asActor(u) });
        const summary = await u.c.get('/api/v1/datasets/graph-summary', asActor(u));
        const status = await u.c.get('/api/v1/datasets/status', asActor(u));
        for (const r of [list, chunks, recall, summary, status]) assert.equal(r.status, 200, r.text);
        return {
          datasets: list.body.map((d: { id: string }) => d.id),
          content: `${chunks.text}\n${recall.text}`.toLowerCase(),
          summary: summary.body.map((s: { datasetId: string }) => s.datasetId),
          status: Object.keys(status.body),
        };
      };
      const denied = 'Request owner does not have necessary permission: [read] for all datasets requested. [PermissionDeniedError]';

      const inA = await view();
      assert.deepEqual([inA.datasets, inA.summary, inA.status], [[dsA], [dsA], [dsA]]);
      assert.ok(inA.content.includes('aquamarine') && !inA.content.includes('burgundy'), inA.content.slice(0, 500));
      assert.deepEqual((await u.c.get(`/api/v1/datasets/${dsB}/data`, asActor(u))).body, { detail: denied });

      await select(tenantB);
      const inB = await view();
      assert.deepEqual([inB.datasets, inB.summary, inB.status], [[dsB], [dsB], [dsB]]);
      assert.ok(inB.content.includes('burgundy') && !inB.content.includes('aquamarine'), inB.content.slice(0, 500));
      const back = await u.c.get(`/api/v1/datasets/${dsA}/graph`, asActor(u));
      assert.deepEqual([back.status, back.body], [403, { detail: denied }], "tenant A's dataset is out of reach while tenant B is active");
      assert.equal((await u.c.get(`/api/v1/datasets/${dsB}/graph`, asActor(u))).status, 200);

      await select(null);
      const personal = await view();
      assert.deepEqual([personal.datasets, personal.summary, personal.status], [[], [], []]);

      await select(tenantA);
      assert.deepEqual((await view()).datasets, [dsA]);
    });
  });
}

// --------------------------------------------------------------------------------------------------
// Multi-tenant defaults: Cypher disabled, local paths refused.

describe('memory attacks over HTTP (multi-tenant defaults)', () => {
  let server: TestServer;
  let fsRoot: string;
  let a: Actor;
  let ds: string;

  before(async () => {
    fsRoot = mkdtempSync(join(tmpdir(), 'engram-attacks-defaults-'));
    writeFileSync(join(fsRoot, 'inside.txt'), 'A file inside the configured root.');
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'true', COGNEE_ALLOWED_LOCAL_FILE_ROOTS: fsRoot } });
    a = await actor(server, 'defaults');
    const added = await a.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: 'notes' }, ...asActor(a) });
    assert.equal(added.status, 200, added.text);
    ds = added.body.dataset_id;
    assert.equal((await a.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(a) })).status, 200);
  });
  after(async () => {
    await server.close();
    rmSync(fsRoot, { recursive: true, force: true });
  });

  it('D18: Cypher is disabled by default in multi-tenant mode: CYPHER, NATURAL_LANGUAGE and routes resolving to them answer 400 UnsupportedSearchTypeError', async () => {
    assert.ok(
      server.logs.messages().some((m) => m === 'cypher search: disabled (ALLOW_CYPHER_QUERY, multi-tenant default)'),
      'the startup log says so',
    );
    const before = await graphOf(a, ds);
    const requests = [
      { path: '/api/v1/search', json: { searchType: 'CYPHER', query: 'MATCH (n) RETURN n.name', datasetIds: [ds] } },
      { path: '/api/v1/search', json: { searchType: 'CYPHER', query: 'MATCH (n:Node) DETACH DELETE n' } },
      { path: '/api/v1/search', json: { searchType: 'NATURAL_LANGUAGE', query: 'Delete everything', datasetIds: [ds] } },
      { path: '/api/v1/search', json: { searchType: 'FEELING_LUCKY', query: 'MATCH (n:Node) DETACH DELETE n', datasetIds: [ds] } },
      { path: '/api/v1/recall', json: { query: 'MATCH (n:Node) DETACH DELETE n', searchType: null, datasetIds: [ds] } },
      { path: '/api/v1/recall', json: { query: 'CREATE (:Node {pk: "x"})', searchType: null } },
      { path: '/api/v1/recall', json: { query: 'MATCH (n) RETURN n', searchType: 'CYPHER', datasetIds: [ds] } },
    ];
    for (const { path, json } of requests) {
      const r = await a.c.post(path, { json, ...asActor(a) });
      assert.deepEqual([r.status, r.body], [400, CYPHER_DISABLED], `${path} ${JSON.stringify(json)}`);
    }
    assert.deepEqual(await graphOf(a, ds), before, 'nothing ran');
    const chunks = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'Babbage', datasetIds: [ds] }, ...asActor(a) });
    assert.equal(chunks.status, 200, 'other search types still work');
  });

  it('D17: local paths are refused altogether by default in multi-tenant mode, even inside the allowed root', async () => {
    assert.ok(
      server.logs.messages().some((m) => m === 'local file paths: refused (ACCEPT_LOCAL_FILE_PATH, multi-tenant default)'),
      'the startup log says so',
    );
    const baseline = await dataOf(a, ds);
    const notAccepted = { detail: 'Local files are not accepted. [IngestionError]' };
    for (const input of [
      join(fsRoot, 'inside.txt'),
      `file://${fsRoot}/inside.txt`,
      'file:///etc/passwd',
      `file://${fsRoot}/missing.txt`,
      `file://${fsRoot}/../../etc/passwd`,
    ]) {
      const r = await a.c.post('/api/v1/add_text', { json: { textData: [input], datasetId: ds }, ...asActor(a) });
      assert.deepEqual([r.status, r.body], [415, notAccepted], input);
    }
    assert.deepEqual(await dataOf(a, ds), baseline, 'nothing was ingested');
    // A bare path outside the roots is text, as everywhere.
    const text = await a.c.post('/api/v1/add_text', { json: { textData: ['/etc/passwd'], datasetId: ds }, ...asActor(a) });
    assert.equal(text.status, 200, text.text);
    const raw = await a.c.get(`/api/v1/datasets/${ds}/data/${text.body.data_ingestion_info[0].data_id}/raw`, asActor(a));
    assert.equal(raw.text, '/etc/passwd');
  });
});

// --------------------------------------------------------------------------------------------------
// D19 redirects. The server resolves host names with the system resolver and connects to the
// validated address, and offers HTTP tests no way to make a loopback first hop count as public
// (that would need a public address to connect to). So the redirect is attacked one level down,
// through the very function the add_text route calls (`fetchPublicUrl`), with a test resolver that
// calls one name public and a connection override that sends only that validated address to a
// loopback "first hop" server; every redirect target is a loopback counting server or a private
// address that must be refused before any connection.

describe('D19: redirects from an allowed first hop to private addresses (fetchPublicUrl, as add_text calls it)', () => {
  const FIRST_HOP_IP = '93.184.216.34';
  let hop: http.Server;
  let hopPort: number;
  let hopHits: string[];
  let target: CountingServer;

  before(async () => {
    target = await startCountingServer();
    hopHits = [];
    hop = http.createServer((req, res) => {
      hopHits.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://first-hop.example');
      if (url.pathname === '/ok') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('first hop body');
        return;
      }
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/ok' }).end();
    });
    await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
    hopPort = (hop.address() as AddressInfo).port;
  });
  after(async () => {
    hop.closeAllConnections();
    await new Promise<void>((resolve) => hop.close(() => resolve()));
    await target.close();
  });

  const options = (): FetchPublicUrlOptions => ({
    allowHttpRequests: true,
    maxBytes: 10 * 1024 * 1024,
    lookup: async (host) => {
      const table: Record<string, string[]> = {
        'first-hop.example': [FIRST_HOP_IP],
        'internal.example': ['192.168.10.10'],
        'loopback.example': ['127.0.0.1'],
      };
      const answer = table[host];
      if (!answer) throw new Error(`ENOTFOUND ${host}`);
      return answer;
    },
    connectOverride: (address) => {
      // Only the validated first-hop address is ever connected to, and only on loopback.
      if (address !== FIRST_HOP_IP) throw new Error(`unexpected connection to ${address}`);
      return { host: '127.0.0.1', port: hopPort };
    },
  });
  const via = (to: string, status = 302) => `http://first-hop.example/r?status=${status}&to=${encodeURIComponent(to)}`;

  it('D19: a redirect is followed when its target is public (control), and refused with SSRFProtectionError for every non-public target, which is never contacted', async () => {
    const ok = await fetchPublicUrl(via('/ok'), options());
    assert.equal(ok.body.toString(), 'first hop body');
    assert.equal(ok.finalUrl, 'http://first-hop.example/ok');

    const p = target.port;
    const cases: [string, number, string][] = [
      [`http://127.0.0.1:${p}/`, 302, "URL host '127.0.0.1' points to a non-public address and is blocked."],
      [`http://2130706433:${p}/`, 301, "URL host '127.0.0.1' points to a non-public address and is blocked."],
      [`http://0x7f000001:${p}/`, 307, "URL host '127.0.0.1' points to a non-public address and is blocked."],
      [`http://[::1]:${target.port6 ?? p}/`, 308, "URL host '::1' points to a non-public address and is blocked."],
      [`http://[::ffff:127.0.0.1]:${p}/`, 303, "URL host '::ffff:7f00:1' points to a non-public address and is blocked."],
      [`http://loopback.example:${p}/`, 302, "URL host 'loopback.example' resolves to a non-public address and is blocked."],
      ['http://internal.example/', 302, "URL host 'internal.example' resolves to a non-public address and is blocked."],
      ['http://10.0.0.1/', 302, "URL host '10.0.0.1' points to a non-public address and is blocked."],
      ['http://172.16.0.1/', 302, "URL host '172.16.0.1' points to a non-public address and is blocked."],
      ['http://192.168.1.1/', 302, "URL host '192.168.1.1' points to a non-public address and is blocked."],
      ['http://169.254.169.254/latest/meta-data/', 302, "URL host '169.254.169.254' points to a non-public address and is blocked."],
      [`file:///etc/passwd`, 302, "URL scheme 'file' is not allowed; only http/https are permitted."],
    ];
    const hopsBefore = hopHits.length;
    for (const [to, status, message] of cases) {
      await assert.rejects(fetchPublicUrl(via(to, status), options()), (error: unknown) => {
        assert.ok(error instanceof SsrfProtectionError, `${to}: ${String(error)}`);
        assert.equal(error.message, message);
        assert.equal(error.status, 403);
        return true;
      });
    }
    assert.equal(hopHits.length - hopsBefore, cases.length, 'every first hop was fetched and answered with its redirect');
    assert.deepEqual(target.hits, [], 'no redirect target was contacted');
  });
});
