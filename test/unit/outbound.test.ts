import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { isPublicAddress } from '../../src/security/addresses.js';
import { SsrfProtectionError, fetchPublicUrl, validateOutboundUrl, type FetchPublicUrlOptions } from '../../src/security/outbound.js';

/**
 * D19: outbound HTTP guard. Address classification (every blocked range, IPv4-mapped/NAT64/6to4
 * forms), URL validation (schemes, numeric IPv4 host forms, DNS answers, exact wire messages) and
 * fetching (pinned connection, redirects validated per hop, size, decompression, timeout).
 */

/** Asserts that `work` rejects with an SsrfProtectionError carrying exactly `message`. */
async function assertBlocked(work: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof SsrfProtectionError, `expected SsrfProtectionError, got ${String(error)}`);
    assert.equal(error.status, 403);
    assert.equal(error.name, 'SSRFProtectionError');
    assert.equal(error.message, message);
    return true;
  });
}

/** A lookup that answers from a table and records the names asked. */
function fakeLookup(table: Record<string, string[]>): { lookup: (host: string) => Promise<string[]>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup: async (host: string) => {
      asked.push(host);
      const answer = table[host];
      if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return answer;
    },
  };
}

// ------------------------------------------------------------------------------------------------
describe('isPublicAddress', () => {
  const blocked: Array<[string, string[]]> = [
    ['0.0.0.0/8 this network', ['0.0.0.0', '0.1.2.3', '0.255.255.255']],
    ['10.0.0.0/8 private', ['10.0.0.0', '10.1.2.3', '10.255.255.255']],
    ['100.64.0.0/10 CGNAT', ['100.64.0.0', '100.100.100.100', '100.127.255.255']],
    ['127.0.0.0/8 loopback', ['127.0.0.1', '127.0.0.0', '127.255.255.254']],
    ['169.254.0.0/16 link-local / metadata', ['169.254.169.254', '169.254.0.0', '169.254.255.255']],
    ['172.16.0.0/12 private', ['172.16.0.0', '172.20.1.1', '172.31.255.255']],
    ['192.0.0.0/24 IETF', ['192.0.0.0', '192.0.0.9', '192.0.0.255']],
    ['192.0.2.0/24 TEST-NET-1', ['192.0.2.0', '192.0.2.1', '192.0.2.255']],
    ['192.88.99.0/24 6to4 relay', ['192.88.99.0', '192.88.99.1', '192.88.99.255']],
    ['192.168.0.0/16 private', ['192.168.0.0', '192.168.1.1', '192.168.255.255']],
    ['198.18.0.0/15 benchmarking', ['198.18.0.0', '198.19.0.1', '198.19.255.255']],
    ['198.51.100.0/24 TEST-NET-2', ['198.51.100.0', '198.51.100.7', '198.51.100.255']],
    ['203.0.113.0/24 TEST-NET-3', ['203.0.113.0', '203.0.113.9', '203.0.113.255']],
    ['224.0.0.0/4 multicast', ['224.0.0.1', '230.1.2.3', '239.255.255.255']],
    ['240.0.0.0/4 reserved', ['240.0.0.0', '250.1.2.3', '255.255.255.254']],
    ['255.255.255.255 broadcast', ['255.255.255.255']],
    [':: unspecified', ['::', '0:0:0:0:0:0:0:0']],
    ['::1 loopback', ['::1', '0:0:0:0:0:0:0:1', '[::1]']],
    ['fc00::/7 unique-local', ['fc00::', 'fd12:3456:789a::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
    ['fe80::/10 link-local', ['fe80::1', 'fe80::1%eth0', 'febf:ffff::1']],
    ['fec0::/10 site-local', ['fec0::1', 'feff::1']],
    ['ff00::/8 multicast', ['ff02::1', 'ff05::2', 'ffff::1']],
    ['2001:db8::/32 documentation', ['2001:db8::', '2001:db8:ffff::1', '2001:0db8:85a3::8a2e:370:7334']],
    [
      '::ffff:0:0/96 mapped private (dotted)',
      ['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::FFFF:192.168.0.1', '0:0:0:0:0:ffff:127.0.0.1'],
    ],
    ['::ffff:0:0/96 mapped private (hex)', ['::ffff:7f00:1', '::ffff:a00:1', '::ffff:a9fe:a9fe', '::ffff:0:0', '::ffff:ffff:ffff']],
    ['::ffff:0:0:0/96 translated private', ['::ffff:0:7f00:1', '::ffff:0:10.0.0.1']],
    ['::/96 IPv4-compatible', ['::127.0.0.1', '::7f00:1', '::8.8.8.8', '::0808:0808']],
    ['64:ff9b::/96 NAT64 of private', ['64:ff9b::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '64:ff9b::a00:1']],
    ['64:ff9b:1::/48 NAT64 local use', ['64:ff9b:1::808:808']],
    ['2002::/16 6to4 of private', ['2002:7f00:1::1', '2002:a00:1::', '2002:c0a8:101::1', '2002:a9fe:a9fe::']],
    ['100::/64 discard', ['100::', '100::1', '100::ffff:ffff:ffff:ffff']],
    ['unallocated (outside 2000::/3)', ['4000::1', '1::1']],
    ['not an address', ['', 'localhost', '2130706433', '0x7f.1', '127.1', '0177.0.0.1', '1.2.3.4.5', '::ffff:999.0.0.1', 'example.com']],
  ];
  for (const [range, addresses] of blocked) {
    it(`blocks ${range}`, () => {
      for (const address of addresses) assert.equal(isPublicAddress(address), false, address);
    });
  }

  it('accepts public addresses, including the edges next to blocked ranges', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '1.0.0.0',
      '9.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '169.255.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '192.0.1.0',
      '192.0.3.0',
      '192.88.98.255',
      '192.167.255.255',
      '192.169.0.0',
      '198.17.255.255',
      '198.20.0.0',
      '198.51.99.255',
      '203.0.112.255',
      '223.255.255.255',
      '2606:4700:4700::1111',
      '2a00:1450:4001:81c::200e',
      '2001:4860:4860::8888',
      '2001:db9::1',
      '::ffff:8.8.8.8',
      '::ffff:808:808',
      '64:ff9b::808:808',
      '64:ff9b::8.8.8.8',
      '2002:808:808::1',
      '[2606:4700:4700::1111]',
    ]) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });
});

// ------------------------------------------------------------------------------------------------
describe('validateOutboundUrl', () => {
  const enabled = { allowHttpRequests: true };

  it('refuses everything when outbound requests are disabled, before any other check', async () => {
    for (const url of ['https://example.com/', 'file:///etc/passwd', 'http://127.0.0.1/']) {
      await assertBlocked(validateOutboundUrl(url, { allowHttpRequests: false }), 'Outbound HTTP requests are disabled (ALLOW_HTTP_REQUESTS=false).');
    }
  });

  it('refuses schemes other than http and https', async () => {
    const cases: Array<[string, string]> = [
      ['file:///etc/passwd', 'file'],
      ['ftp://example.com/file', 'ftp'],
      ['gopher://example.com:70/_', 'gopher'],
      ['javascript:alert(1)', 'javascript'],
      ['data:text/plain,hello', 'data'],
      ['FILE:///etc/passwd', 'file'],
      ['ws://example.com/', 'ws'],
      ['not a url', ''],
      ['//example.com/path', ''],
    ];
    for (const [url, scheme] of cases) {
      await assertBlocked(validateOutboundUrl(url, enabled), `URL scheme '${scheme}' is not allowed; only http/https are permitted.`);
    }
  });

  it('refuses a URL without a host', async () => {
    for (const url of ['http://', 'https:', 'http://?x', 'http://user@/x', 'http://[]/', 'http://:80/']) {
      await assertBlocked(validateOutboundUrl(url, enabled), 'URL does not contain a valid host.');
    }
  });

  it('refuses non-public IP literals in every numeric form, without asking DNS', async () => {
    const { lookup, asked } = fakeLookup({});
    const cases: Array<[string, string]> = [
      ['http://127.0.0.1/', '127.0.0.1'],
      ['http://2130706433/', '127.0.0.1'],
      ['http://0x7f.1/', '127.0.0.1'],
      ['http://0x7f000001/', '127.0.0.1'],
      ['http://127.1/', '127.0.0.1'],
      ['http://0177.0.0.1/', '127.0.0.1'],
      ['http://017700000001/', '127.0.0.1'],
      ['http://127.0.0.1.:8080/x', '127.0.0.1'],
      ['http://0/', '0.0.0.0'],
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
      ['http://2852039166/', '169.254.169.254'],
      ['http://10.0.0.1/', '10.0.0.1'],
      ['https://192.168.1.1:8443/', '192.168.1.1'],
      ['http://[::1]/', '::1'],
      ['http://[::]/', '::'],
      ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
      ['http://[::ffff:7f00:1]/', '::ffff:7f00:1'],
      ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/', '::ffff:a9fe:a9fe'],
      ['http://[64:ff9b::7f00:1]/', '64:ff9b::7f00:1'],
      ['http://[fe80::1]/', 'fe80::1'],
      ['http://[fd00::1]:8080/', 'fd00::1'],
      ['http://[2002:7f00:1::1]/', '2002:7f00:1::1'],
    ];
    for (const [url, host] of cases) {
      await assertBlocked(validateOutboundUrl(url, { allowHttpRequests: true, lookup }), `URL host '${host}' points to a non-public address and is blocked.`);
    }
    assert.deepEqual(asked, []);
  });

  it('accepts public IP literals without asking DNS', async () => {
    const { lookup, asked } = fakeLookup({});
    const v4 = await validateOutboundUrl('http://93.184.216.34/page?q=1', { allowHttpRequests: true, lookup });
    assert.deepEqual(v4.addresses, ['93.184.216.34']);
    assert.equal(v4.url.href, 'http://93.184.216.34/page?q=1');
    const v6 = await validateOutboundUrl('https://[2606:4700:4700::1111]/', { allowHttpRequests: true, lookup });
    assert.deepEqual(v6.addresses, ['2606:4700:4700::1111']);
    const mapped = await validateOutboundUrl('http://[::ffff:8.8.8.8]/', { allowHttpRequests: true, lookup });
    assert.deepEqual(mapped.addresses, ['::ffff:808:808']);
    assert.deepEqual(asked, []);
  });

  it('refuses a name that resolves to loopback (injected resolver)', async () => {
    const { lookup, asked } = fakeLookup({ 'localtest.me': ['127.0.0.1'], 'v6.localtest.me': ['::1'] });
    await assertBlocked(
      validateOutboundUrl('http://localtest.me/', { allowHttpRequests: true, lookup }),
      "URL host 'localtest.me' resolves to a non-public address and is blocked.",
    );
    await assertBlocked(
      validateOutboundUrl('https://v6.localtest.me:8443/x', { allowHttpRequests: true, lookup }),
      "URL host 'v6.localtest.me' resolves to a non-public address and is blocked.",
    );
    assert.deepEqual(asked, ['localtest.me', 'v6.localtest.me']);
  });

  it('refuses localhost through the real resolver', async () => {
    await assert.rejects(validateOutboundUrl('http://localhost/', enabled), (error: unknown) => {
      assert.ok(error instanceof SsrfProtectionError);
      assert.match(error.message, /^URL host 'localhost' resolves to a non-public address and is blocked\.$/);
      return true;
    });
  });

  it('refuses a name when ANY of its addresses is non-public', async () => {
    const { lookup } = fakeLookup({
      'mixed.example': ['93.184.216.34', '10.0.0.5'],
      'mixed6.example': ['2606:4700:4700::1111', '::ffff:169.254.169.254'],
      'private-first.example': ['192.168.0.10', '93.184.216.34'],
    });
    await assertBlocked(
      validateOutboundUrl('http://mixed.example/', { allowHttpRequests: true, lookup }),
      "URL host 'mixed.example' resolves to a non-public address and is blocked.",
    );
    await assertBlocked(
      validateOutboundUrl('http://mixed6.example/', { allowHttpRequests: true, lookup }),
      "URL host 'mixed6.example' resolves to a non-public address and is blocked.",
    );
    await assertBlocked(
      validateOutboundUrl('http://private-first.example/', { allowHttpRequests: true, lookup }),
      "URL host 'private-first.example' resolves to a non-public address and is blocked.",
    );
  });

  it('reports a name that does not resolve', async () => {
    const { lookup } = fakeLookup({ 'empty.example': [] });
    await assertBlocked(validateOutboundUrl('http://nowhere.example/', { allowHttpRequests: true, lookup }), "Could not resolve URL host 'nowhere.example'.");
    await assertBlocked(validateOutboundUrl('http://empty.example/', { allowHttpRequests: true, lookup }), "Could not resolve URL host 'empty.example'.");
  });

  it('returns every address of a public name', async () => {
    const { lookup } = fakeLookup({ 'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'] });
    const result = await validateOutboundUrl('  HTTPS://Public.Example/a b  ', { allowHttpRequests: true, lookup });
    assert.equal(result.url.href, 'https://public.example/a%20b');
    assert.deepEqual(result.addresses, ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
  });
});

// ------------------------------------------------------------------------------------------------
describe('fetchPublicUrl', () => {
  const PUBLIC_IP = '93.184.216.34';
  let server: http.Server;
  let port = 0;
  const hits: Record<string, number> = {};
  const hostHeaders: string[] = [];
  const connectCalls: Array<[string, number]> = [];
  const bigText = 'x'.repeat(4096);

  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://placeholder');
      hits[url.pathname] = (hits[url.pathname] ?? 0) + 1;
      hostHeaders.push(req.headers.host ?? '');
      const chain = /^\/chain\/(\d+)$/.exec(url.pathname);
      if (chain) {
        const left = Number(chain[1]);
        if (left === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('end of chain');
        else res.writeHead(302, { location: `/chain/${left - 1}` }).end();
        return;
      }
      switch (url.pathname) {
        case '/ok':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<p>hello</p>');
          return;
        case '/redirect-relative':
          res.writeHead(301, { location: '/ok' }).end();
          return;
        case '/redirect-absolute':
          res.writeHead(307, { location: 'http://other.example/ok' }).end();
          return;
        case '/redirect-loopback':
          res.writeHead(302, { location: `http://127.0.0.1:${port}/ok` }).end();
          return;
        case '/redirect-private':
          res.writeHead(302, { location: 'http://10.0.0.1/ok' }).end();
          return;
        case '/redirect-private-name':
          res.writeHead(303, { location: 'http://internal.example/ok' }).end();
          return;
        case '/redirect-file':
          res.writeHead(308, { location: 'file:///etc/passwd' }).end();
          return;
        case '/big':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(bigText.length) }).end(bigText);
          return;
        case '/big-chunked':
          res.writeHead(200, { 'content-type': 'text/plain' });
          for (let i = 0; i < 8; i++) res.write(bigText.slice(0, 512));
          res.end();
          return;
        case '/gzip':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(zlib.gzipSync('compressed hello'));
          return;
        case '/deflate':
          res.writeHead(200, { 'content-encoding': 'deflate' }).end(zlib.deflateSync('zlib deflate hello'));
          return;
        case '/deflate-raw':
          res.writeHead(200, { 'content-encoding': 'deflate' }).end(zlib.deflateRawSync('raw deflate hello'));
          return;
        case '/br':
          res.writeHead(200, { 'content-encoding': 'br' }).end(zlib.brotliCompressSync('brotli hello'));
          return;
        case '/gzip-bomb':
          res.writeHead(200, { 'content-encoding': 'gzip' }).end(zlib.gzipSync(Buffer.alloc(1024 * 1024)));
          return;
        case '/unknown-encoding':
          res.writeHead(200, { 'content-encoding': 'compress' }).end('??');
          return;
        case '/not-found':
          res.writeHead(404, { 'content-type': 'text/plain' }).end('missing');
          return;
        case '/hang':
          return; // never answers
        case '/hang-body':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('partial');
          return; // never ends
        case '/pin-probe':
          res.writeHead(200).end('reached loopback: not pinned');
          return;
        default:
          res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Options that resolve the fake names to public addresses and route the TCP connection to the test server. */
  function options(extra: Partial<FetchPublicUrlOptions> = {}): FetchPublicUrlOptions {
    return {
      allowHttpRequests: true,
      lookup: fakeLookup({
        'public.example': [PUBLIC_IP],
        'other.example': ['8.8.8.8'],
        'internal.example': ['93.184.216.34', '172.16.0.1'],
      }).lookup,
      connectOverride: (address, p) => {
        connectCalls.push([address, p]);
        return { host: '127.0.0.1', port };
      },
      ...extra,
    };
  }

  it('fetches a public URL and returns status, content type and body; Host stays the name', async () => {
    connectCalls.length = 0;
    hostHeaders.length = 0;
    const result = await fetchPublicUrl('http://public.example/ok', options());
    assert.equal(result.status, 200);
    assert.equal(result.finalUrl, 'http://public.example/ok');
    assert.equal(result.contentType, 'text/html; charset=utf-8');
    assert.equal(result.body.toString('utf8'), '<p>hello</p>');
    assert.deepEqual(connectCalls, [[PUBLIC_IP, 80]], 'the connection targets the validated address');
    assert.deepEqual(hostHeaders, ['public.example']);
  });

  it('follows a relative redirect and an absolute one to another public name', async () => {
    const relative = await fetchPublicUrl('http://public.example/redirect-relative', options());
    assert.equal(relative.finalUrl, 'http://public.example/ok');
    assert.equal(relative.body.toString(), '<p>hello</p>');

    connectCalls.length = 0;
    const absolute = await fetchPublicUrl('http://public.example/redirect-absolute', options());
    assert.equal(absolute.finalUrl, 'http://other.example/ok');
    assert.deepEqual(
      connectCalls,
      [
        [PUBLIC_IP, 80],
        ['8.8.8.8', 80],
      ],
      'every hop is pinned to its own validated address',
    );
  });

  it('refuses a redirect to a loopback address', async () => {
    const before = hits['/ok'] ?? 0;
    await assertBlocked(
      fetchPublicUrl('http://public.example/redirect-loopback', options()),
      "URL host '127.0.0.1' points to a non-public address and is blocked.",
    );
    assert.equal(hits['/ok'] ?? 0, before, 'the redirect target was never requested');
  });

  it('refuses a redirect to a private address', async () => {
    await assertBlocked(
      fetchPublicUrl('http://public.example/redirect-private', options()),
      "URL host '10.0.0.1' points to a non-public address and is blocked.",
    );
  });

  it('refuses a redirect to a name that resolves to a private address', async () => {
    await assertBlocked(
      fetchPublicUrl('http://public.example/redirect-private-name', options()),
      "URL host 'internal.example' resolves to a non-public address and is blocked.",
    );
  });

  it('refuses a redirect to a non-http scheme', async () => {
    await assertBlocked(fetchPublicUrl('http://public.example/redirect-file', options()), "URL scheme 'file' is not allowed; only http/https are permitted.");
  });

  it('follows at most maxRedirects redirects', async () => {
    const ok = await fetchPublicUrl('http://public.example/chain/3', options({ maxRedirects: 3 }));
    assert.equal(ok.body.toString(), 'end of chain');
    assert.equal(ok.finalUrl, 'http://public.example/chain/0');

    await assert.rejects(fetchPublicUrl('http://public.example/chain/4', options({ maxRedirects: 3 })), /Too many redirects/);
    await assert.rejects(fetchPublicUrl('http://public.example/chain/6', options()), /Too many redirects/, 'default limit is 5');
    const five = await fetchPublicUrl('http://public.example/chain/5', options());
    assert.equal(five.body.toString(), 'end of chain');
  });

  it('refuses a body over maxBytes, declared or streamed', async () => {
    await assert.rejects(fetchPublicUrl('http://public.example/big', options({ maxBytes: 1024 })), {
      message: 'Response body exceeds 1024 bytes.',
    });
    await assert.rejects(fetchPublicUrl('http://public.example/big-chunked', options({ maxBytes: 1000 })), {
      message: 'Response body exceeds 1000 bytes.',
    });
    const exact = await fetchPublicUrl('http://public.example/big', options({ maxBytes: 4096 }));
    assert.equal(exact.body.length, 4096);
  });

  it('decompresses gzip, deflate (zlib and raw) and brotli bodies', async () => {
    const gzip = await fetchPublicUrl('http://public.example/gzip', options());
    assert.equal(gzip.body.toString(), 'compressed hello');
    assert.equal(gzip.contentType, 'text/plain');
    assert.equal((await fetchPublicUrl('http://public.example/deflate', options())).body.toString(), 'zlib deflate hello');
    assert.equal((await fetchPublicUrl('http://public.example/deflate-raw', options())).body.toString(), 'raw deflate hello');
    assert.equal((await fetchPublicUrl('http://public.example/br', options())).body.toString(), 'brotli hello');
    assert.equal((await fetchPublicUrl('http://public.example/deflate', options())).contentType, '');
  });

  it('counts decompressed bytes against maxBytes (a small gzip bomb is refused)', async () => {
    await assert.rejects(fetchPublicUrl('http://public.example/gzip-bomb', options({ maxBytes: 64 * 1024 })), {
      message: `Response body exceeds ${64 * 1024} bytes.`,
    });
  });

  it('refuses an unknown content encoding', async () => {
    await assert.rejects(fetchPublicUrl('http://public.example/unknown-encoding', options()), /Unsupported content-encoding 'compress'/);
  });

  it('refuses a non-2xx final status', async () => {
    await assert.rejects(fetchPublicUrl('http://public.example/not-found', options()), {
      message: 'Fetching http://public.example/not-found failed with HTTP 404.',
    });
  });

  it('times out on a server that never answers, and on a body that never ends', async () => {
    const started = Date.now();
    await assert.rejects(fetchPublicUrl('http://public.example/hang', options({ timeoutMs: 200 })), /timed out after 200 ms/);
    await assert.rejects(fetchPublicUrl('http://public.example/hang-body', options({ timeoutMs: 200 })), /timed out after 200 ms/);
    assert.ok(Date.now() - started < 5000, 'the timeout fired promptly');
  });

  it('times out while the resolver hangs', async () => {
    await assert.rejects(
      fetchPublicUrl('http://slow.example/ok', { allowHttpRequests: true, timeoutMs: 100, lookup: () => new Promise<string[]>(() => {}) }),
      /timed out after 100 ms/,
    );
  });

  it('pins the connection to the validated address instead of resolving the name again', async () => {
    // The injected resolver says `localhost` is public; the system resolver says loopback. Without a
    // connectOverride the request must go to the validated (public, here unreachable) address and
    // never reach the loopback server.
    const before = hits['/pin-probe'] ?? 0;
    await assert.rejects(
      fetchPublicUrl(`http://localhost:${port}/pin-probe`, {
        allowHttpRequests: true,
        timeoutMs: 500,
        lookup: async () => ['93.184.0.1'],
      }),
    );
    assert.equal(hits['/pin-probe'] ?? 0, before, 'the loopback server was not reached');
  });

  it('refuses everything when outbound requests are disabled', async () => {
    await assertBlocked(
      fetchPublicUrl('http://public.example/ok', options({ allowHttpRequests: false })),
      'Outbound HTTP requests are disabled (ALLOW_HTTP_REQUESTS=false).',
    );
  });
});
