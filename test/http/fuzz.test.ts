import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { sql } from 'kysely';
import { startTestServer, strongPassword, uniqueEmail, type Client, type HttpResult, type TestServer } from '../helpers/harness.js';

/**
 * Property-based fuzzing of every auth route over real HTTP (authentication required, rate limits
 * off). Generated: arbitrary JSON (deep, huge, unicode, prototype keys, wrong types), raw bytes,
 * malformed JSON, form and multipart bodies (repeated keys, empty values, garbage boundaries),
 * mismatched content types, arbitrary Authorization / X-Api-Key / Cookie values (JWT shapes with
 * random parts, long values), arbitrary path ids and query strings. Properties:
 *   1. never a 5xx;
 *   2. never a 2xx on a protected route without a valid credential, and no answer carries another
 *      user's e-mail, id or key unless the request itself did;
 *   3. every error body is JSON with `detail` (or the API-key `error.message` envelope), no stack;
 *   4. login answers generated input with exactly 400 LOGIN_BAD_CREDENTIALS and sets no cookie;
 *   5. bodies over HTTP_BODY_LIMIT_BYTES get 413 {"detail"} and the server keeps serving;
 *   6. afterwards a known user still logs in, the user count moved only by registrations, and no
 *      record is half-written (users ⇔ principals).
 * Runs and seed are fixed (FUZZ_SEED, FUZZ_SCALE override them); fast-check prints the seed and
 * the shrunk counterexample on failure.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED });
const BODY_LIMIT = 16384;
/** Node refuses more than 16 KiB of headers (431); generated credentials stay well under it. */
const HEADER_BUDGET = 12000;

// ---------------------------------------------------------------------------------------------
// Generators

const WEIRD = [
  '\u0000',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\uffff',
  '\u2028',
  '\u00a0',
  '🙂',
  'e\u0301',
  '\r\n',
  '"',
  '\\',
  '<script>',
  "'",
  '%00',
  '%',
  '${jndi:x}',
  '\t',
  ' ',
  '@',
];
const weirdUnit = fc.oneof(
  fc.constantFrom(...WEIRD),
  fc
    .integer({ min: 0, max: 0x10ffff })
    .filter((cp) => cp < 0xd800 || cp > 0xdfff)
    .map((cp) => String.fromCodePoint(cp)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
);
const hugeString = fc.tuple(fc.constantFrom('x', 'é', '🙂', '\u0000', 'a@'), fc.integer({ min: 300, max: 5000 })).map(([c, n]) => c.repeat(n));
/** Text that storage layers mishandle: NUL (PostgreSQL text refuses it), lone surrogates, SQL, controls. */
const nastyText = fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', '\u202e', "'; DROP TABLE users; --", '%00', '\r\n', '\u0000'.repeat(64));
const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: nastyText },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: weirdUnit, maxLength: 20 }) },
  { weight: 1, arbitrary: hugeString },
);
const hostileKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'hasOwnProperty',
    '__defineGetter__',
    'email',
    'password',
    'username',
    'token',
    'name',
    'is_superuser',
    'is_active',
    'is_verified',
    'parent_user_id',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, 0.1, -1),
);
const { value: hostileJson } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 })),
}));
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileJson,
  fc.jsonValue({ maxDepth: 5 }),
  fc.object({ key: hostileKey, maxDepth: 3, values: [leaf] }),
  fc.array(leaf, { maxLength: 6 }),
);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
const strongPw = fc.uint8Array({ minLength: 12, maxLength: 18 }).map((b) => `pw-${Buffer.from(b).toString('base64url')}`);
const passwordish: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: strongPw },
  { weight: 2, arbitrary: fc.string({ minLength: 8, maxLength: 30 }) },
  { weight: 2, arbitrary: anyString },
  { weight: 1, arbitrary: fc.integer({ min: 4097, max: 5000 }).map((n) => 'p'.repeat(n)) },
  { weight: 1, arbitrary: leaf },
  { weight: 1, arbitrary: fc.array(fc.string(), { maxLength: 2 }) },
);
const plainEmail = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 12 }),
    fc.constantFrom('', '.x', '+tag', '_Y'),
    fc.constantFrom('example.com', 'Example.ORG', 'mail.example.net', 'xn--bcher-kva.example'),
  )
  .map(([local, suffix, domain]) => `${local}${suffix}@${domain}`);
/** Addresses that have broken e-mail handling elsewhere: NUL (PostgreSQL text refuses it), SQL, lone surrogates. */
const NASTY_EMAILS = [
  '\u0000',
  'a\u0000@example.com',
  'x@example.com\u0000.evil',
  '%00@example.com',
  "admin'--@example.com",
  '\ud800@example.com',
  'a@b',
  '@',
  '',
  ' ',
  'A@EXAMPLE.COM ',
];
const emailish = (taken: readonly string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 5, arbitrary: plainEmail },
    { weight: 1, arbitrary: fc.constantFrom(...NASTY_EMAILS) },
    { weight: 2, arbitrary: fc.emailAddress() },
    { weight: 2, arbitrary: fc.tuple(anyString, fc.constantFrom('@example.com', '@EXAMPLE.COM', '@', '@@x.io', '', '@localhost')).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.constantFrom(...taken).chain((e) => fc.constantFrom(e, e.toUpperCase(), ` ${e} `)) },
    { weight: 1, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(fc.emailAddress(), { minLength: 1, maxLength: 2 }) },
  );

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const headerChar = fc
  .oneof(
    { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.constant(0x09) },
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  )
  .map((c) => String.fromCharCode(c));
/** Header values a client can put on the wire (fetch refuses NUL, CR, LF and non-Latin-1). */
const headerText = (maxLength: number, minLength = 0) => fc.string({ unit: headerChar, minLength, maxLength });

/** Unsigned or wrongly signed JWT shapes: random header, claims (naming real users) and signature. */
const jwtShape = (userIds: readonly string[]): fc.Arbitrary<string> => {
  const header = fc.oneof(
    fc.record({
      alg: fc.constantFrom('HS256', 'none', 'None', 'RS256', 'ES256', 'HS512', 'PS256', 'EdDSA', ''),
      typ: optional(fc.constantFrom('JWT', 'at+jwt', 'jwt')),
      kid: optional(anyString),
      crit: optional(fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })),
      b64: optional(fc.boolean()),
      jku: optional(fc.constant('http://127.0.0.1:1/jwks')),
    }),
    hostileJson,
  );
  const claims = fc.oneof(
    fc.record({
      sub: optional(fc.oneof(fc.constantFrom(...userIds), fc.uuid(), anyString)),
      user_id: optional(fc.oneof(fc.constantFrom(...userIds), fc.uuid(), leaf)),
      aud: optional(fc.oneof(fc.constant(['fastapi-users:auth']), fc.constant('fastapi-users:auth'), fc.constant('fastapi-users:reset'), leaf)),
      exp: optional(fc.oneof(fc.constant(Math.floor(Date.now() / 1000) + 3600), fc.constant(9e15), leaf)),
      iat: optional(leaf),
      jti: optional(fc.oneof(fc.uuid(), anyString)),
      tenant_id: optional(leaf),
      roles: optional(fc.oneof(fc.array(anyString, { maxLength: 3 }), leaf)),
    }),
    hostileJson,
  );
  const signature = fc.oneof(fc.uint8Array({ maxLength: 64 }).map(b64), fc.constant(''), headerText(20));
  return fc.oneof(
    fc.tuple(header, claims, signature).map(([h, p, s]) => `${b64(JSON.stringify(h) ?? '')}.${b64(JSON.stringify(p) ?? '')}.${s}`),
    fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 })).map((parts) => parts.map(b64).join('.')),
    fc.array(fc.uint8Array({ maxLength: 30 }).map(b64), { minLength: 0, maxLength: 6 }).map((parts) => parts.join('.')),
  );
};

const credentialValue = (userIds: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: headerText(200) },
    { weight: 4, arbitrary: jwtShape(userIds) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }) },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('A', 'eyJ', 'x.'), fc.integer({ min: 400, max: 9000 }))
        .map(([c, n]) => c.repeat(Math.ceil(n / c.length)).slice(0, n)),
    },
  );

interface Credentials {
  authorization?: string | undefined;
  apiKey?: string | undefined;
  cookie?: string | undefined;
}

const junkCredentials = (userIds: readonly string[]): fc.Arbitrary<Credentials> => {
  const v = credentialValue(userIds);
  return fc.record({
    authorization: optional(
      fc.oneof(
        v.map((x) => `Bearer ${x}`),
        v.map((x) => `bearer   ${x}`),
        v,
        v.map((x) => `Basic ${b64(x)}`),
        fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'Token abc', 'Basic dXNlcjpwYXNz', 'Bearer null', 'Bearer undefined'),
      ),
    ),
    apiKey: optional(v),
    cookie: optional(
      fc.oneof(
        v.map((x) => `auth_token=${x}`),
        v.map((x) => `fastapiusersauth=${x}`),
        fc.tuple(v, v).map(([a, b]) => `auth_token=${a}; auth_token=${b}`),
        v.map((x) => `auth_token="${x}"`),
        v.map((x) => `auth_token=${encodeURIComponent(x)}; other=1`),
        fc.constantFrom('auth_token=', 'auth_token', '=', ';;;', 'auth_token=%', 'auth_token=%E0%A4%A'),
        headerText(200),
      ),
    ),
  });
};

/** Keeps the credential headers under the budget: drops all but the longest when over it. */
function withinBudget(c: Credentials): Credentials {
  const entries = Object.entries(c).filter(([, v]) => v !== undefined) as [keyof Credentials, string][];
  const total = entries.reduce((n, [, v]) => n + v.length, 0);
  if (total <= HEADER_BUDGET) return c;
  const [name, value] = entries.sort((a, b) => b[1].length - a[1].length)[0]!;
  return { [name]: value.slice(0, HEADER_BUDGET) };
}

interface Payload {
  contentType: string | undefined;
  bytes: Buffer;
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=utf-16', 'application/vnd.api+json'];
const FORM_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1'];
const OTHER_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'application/octet-stream',
  'multipart/form-data; boundary=zz',
  'multipart/form-data',
  'multipart/mixed; boundary=zz',
  '*/*',
  '',
  ';',
  'application/json, text/plain',
  'application/x-www-form-urlencoded, application/json',
];
const anyType = fc.oneof(fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES), headerText(60));
const typeFor = (preferred: string[]) =>
  fc.option(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...preferred) }, { weight: 2, arbitrary: anyType }), { nil: undefined, freq: 8 });

const fieldName = fc.oneof(
  fc.constantFrom(
    'username',
    'password',
    'email',
    'token',
    'grant_type',
    'scope',
    'client_id',
    'client_secret',
    'name',
    'is_superuser',
    '__proto__',
    'constructor',
    'username[]',
    'password[0]',
    '',
  ),
  fc.string({ maxLength: 10 }),
);
const fieldValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: anyString },
);
const entriesOf = (value: unknown): [string, string][] =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')])
    : [];
const formEntries = (shaped: fc.Arbitrary<unknown>) =>
  fc.tuple(shaped, fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 6 })).map(([v, extra]) => [...entriesOf(v), ...extra]);
const urlEncoded = (entries: [string, string][]) => new URLSearchParams(entries).toString();
const multipartBody = (entries: [string, string][], boundary: string, filePart: boolean) =>
  entries.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"${filePart ? '; filename="a.txt"' : ''}\r\n\r\n${v}\r\n`).join('') +
  `--${boundary}--\r\n`;

const MALFORMED_JSON = [
  '{',
  '}',
  '[',
  '{"email": "a@b.co", "password": ',
  '{"a":1}{"b":2}',
  "{'email': 'a@b.co'}",
  '{"email": NaN}',
  '[1,2,]',
  '{"a":1,}',
  '\ufeff{"email":"a@b.co"}',
  '/* c */ {}',
  'nul',
  'true',
  '"str"',
  '1e999999',
  '-',
  '\u0000',
  '',
  ' ',
  '{"email":"a@b.co","email":"c@d.co"}',
  '{"__proto__": {"is_superuser": true}, "email": "proto@example.com", "password": "pw-aaaaaaaaaaaaaaaa"}',
  '{"constructor": {"prototype": {"is_superuser": true}}, "email": "ctor@example.com", "password": "pw-bbbbbbbbbbbbbbbb"}',
  '{"email": "\\ud800@x.io", "password": "\\udfff\\ud800xxxxxxxx"}',
  '{"email": "a\\u0000@x.io"}',
  '{"name": "\\u0000"}',
  '{"token": "\\u0000.\\u0000.\\u0000"}',
];

/** Every way a client can get a body wrong, around a value shaped for the route. */
const payloadFor = (shaped: fc.Arbitrary<unknown>): fc.Arbitrary<Payload> => {
  const value = fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 2, arbitrary: anyJson });
  const p = (text: string | Buffer, contentType: string | undefined): Payload => ({ contentType, bytes: Buffer.isBuffer(text) ? text : Buffer.from(text) });
  return fc.oneof(
    { weight: 10, arbitrary: shaped.map((v) => p(JSON.stringify(v) ?? 'null', 'application/json')) },
    { weight: 4, arbitrary: fc.tuple(value, typeFor(JSON_TYPES)).map(([v, ct]) => p(JSON.stringify(v) ?? 'null', ct)) },
    { weight: 3, arbitrary: fc.tuple(formEntries(value), typeFor(FORM_TYPES)).map(([e, ct]) => p(urlEncoded(e), ct)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          formEntries(value),
          fc.string({ unit: fc.constantFrom(...'abcdefXYZ0189-_'), minLength: 1, maxLength: 300 }),
          fc.boolean(),
          fc.constantFrom('ok', 'none', 'other', 'truncated'),
        )
        .map(([e, boundary, filePart, mode]) => {
          const body = multipartBody(e, boundary, filePart);
          const ct = mode === 'none' ? 'multipart/form-data' : `multipart/form-data; boundary=${mode === 'other' ? 'different' : boundary}`;
          return p(mode === 'truncated' ? body.slice(0, Math.floor(body.length / 2)) : body, ct);
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(value, fc.nat(), fc.constantFrom(...'{}[]",:\\\u0000 x'), fc.constantFrom('truncate', 'insert', 'replace'), typeFor(JSON_TYPES))
        .map(([v, at, ch, how, ct]) => {
          const text = JSON.stringify(v) ?? 'null';
          const i = text.length === 0 ? 0 : at % text.length;
          const bad =
            how === 'truncate' ? text.slice(0, i) : how === 'insert' ? text.slice(0, i) + ch + text.slice(i) : text.slice(0, i) + ch + text.slice(i + 1);
          return p(bad, ct);
        }),
    },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...MALFORMED_JSON), typeFor(JSON_TYPES)).map(([t, ct]) => p(t, ct)) },
    { weight: 2, arbitrary: fc.tuple(fc.uint8Array({ maxLength: 1024 }), fc.option(anyType, { nil: undefined })).map(([b, ct]) => p(Buffer.from(b), ct)) },
    { weight: 1, arbitrary: fc.tuple(anyString, typeFor(['text/plain'])).map(([t, ct]) => p(t, ct)) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('[', '{"email":', '{"a":['), fc.integer({ min: 10, max: 1700 }), fc.boolean()).map(([open, n, balanced]) => {
        const close = open === '[' ? ']' : open === '{"email":' ? '}' : ']}';
        return p(open.repeat(n) + (open === '[' ? '' : '1') + (balanced ? close.repeat(n) : ''), 'application/json');
      }),
    },
    { weight: 1, arbitrary: fc.integer({ min: 2000, max: 16000 }).map((n) => p('['.repeat(n), 'application/json')) },
  );
};

/** What a request "says" (decoded), so an echo of the caller's own input is not counted as a leak. */
function requestText(path: string, headers: Record<string, string>, body: Buffer | undefined): string {
  const text = body ? body.toString('utf8') : '';
  let decoded = '';
  try {
    for (const [k, v] of new URLSearchParams(text)) decoded += `${k}=${v}\n`;
  } catch {
    // not a form
  }
  let decodedPath = path;
  try {
    decodedPath = decodeURIComponent(path);
  } catch {
    // keep raw
  }
  return `${path}\n${decodedPath}\n${Object.values(headers).join('\n')}\n${text}\n${decoded}`.toLowerCase();
}

const pathIds = (known: readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
    ...(known.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...known) }] : []),
    { weight: 2, arbitrary: fc.string({ maxLength: 80 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        '%',
        '%zz',
        '%00',
        '%2F',
        '..',
        '..%2F..',
        '%2e%2e',
        'null',
        'undefined',
        '0',
        '-1',
        '1e9',
        'me',
        'get-user-id',
        '00000000-0000-0000-0000-000000000000',
        '%E0%A4%A',
        '%ED%A0%80',
        "'%20OR%20'1'%3D'1",
        'x'.repeat(65),
        'y'.repeat(201),
        '__proto__',
        'constructor',
      ),
    },
  );
const queryString = fc.option(
  fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }).map((d) => `?${new URLSearchParams(d)}`),
    fc.constantFrom('?', '?%', '?a=%zz', '?__proto__[is_superuser]=1', '?username=a&password=b', '?email=a@b.co&email=c@d.co'),
  ),
  { nil: '', freq: 3 },
);

// ---------------------------------------------------------------------------------------------
// Routes

type RouteKey =
  | 'login'
  | 'register'
  | 'forgot'
  | 'reset'
  | 'requestVerify'
  | 'verify'
  | 'logout'
  | 'authMe'
  | 'listKeys'
  | 'createKey'
  | 'deleteKey'
  | 'usersMe'
  | 'patchMe'
  | 'getUser'
  | 'patchUser'
  | 'deleteUser'
  | 'getUserId'
  | 'root'
  | 'health'
  | 'openapi';

interface Route {
  key: RouteKey;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  protected: boolean;
}

const ROUTES: Route[] = [
  { key: 'login', method: 'POST', path: '/api/v1/auth/login', protected: false },
  { key: 'register', method: 'POST', path: '/api/v1/auth/register', protected: false },
  { key: 'forgot', method: 'POST', path: '/api/v1/auth/forgot-password', protected: false },
  { key: 'reset', method: 'POST', path: '/api/v1/auth/reset-password', protected: false },
  { key: 'requestVerify', method: 'POST', path: '/api/v1/auth/request-verify-token', protected: false },
  { key: 'verify', method: 'POST', path: '/api/v1/auth/verify', protected: false },
  { key: 'logout', method: 'POST', path: '/api/v1/auth/logout', protected: true },
  { key: 'authMe', method: 'GET', path: '/api/v1/auth/me', protected: true },
  { key: 'listKeys', method: 'GET', path: '/api/v1/auth/api-keys', protected: true },
  { key: 'createKey', method: 'POST', path: '/api/v1/auth/api-keys', protected: true },
  { key: 'deleteKey', method: 'DELETE', path: '/api/v1/auth/api-keys/{id}', protected: true },
  { key: 'usersMe', method: 'GET', path: '/api/v1/users/me', protected: true },
  { key: 'patchMe', method: 'PATCH', path: '/api/v1/users/me', protected: true },
  { key: 'getUser', method: 'GET', path: '/api/v1/users/{id}', protected: true },
  { key: 'patchUser', method: 'PATCH', path: '/api/v1/users/{id}', protected: true },
  { key: 'deleteUser', method: 'DELETE', path: '/api/v1/users/{id}', protected: true },
  { key: 'getUserId', method: 'POST', path: '/api/v1/users/get-user-id', protected: true },
  { key: 'root', method: 'GET', path: '/', protected: false },
  { key: 'health', method: 'GET', path: '/health', protected: false },
  { key: 'openapi', method: 'GET', path: '/openapi.json', protected: false },
];
const route = (key: RouteKey) => ROUTES.find((r) => r.key === key)!;

/** A body shaped for each route (then mangled by payloadFor). */
function shapedBody(key: RouteKey, takenEmails: readonly string[], userIds: readonly string[]): fc.Arbitrary<unknown> {
  const email = emailish(takenEmails);
  const token = fc.oneof(jwtShape(userIds), anyString, leaf);
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
  const flag = fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: leaf });
  const update = fc.record({
    email: maybe(fc.oneof({ weight: 3, arbitrary: email }, { weight: 1, arbitrary: fc.constant(null) })),
    password: maybe(fc.oneof({ weight: 3, arbitrary: passwordish }, { weight: 1, arbitrary: fc.constant(null) })),
    is_active: maybe(flag),
    is_superuser: maybe(flag),
    is_verified: maybe(flag),
  });
  switch (key) {
    case 'login':
      return fc.record({ username: email, password: passwordish, grant_type: optional(fc.oneof(fc.constant('password'), anyString)) });
    case 'register':
      return fc.record({
        email,
        password: passwordish,
        is_superuser: optional(fc.oneof(fc.constant(true), leaf)),
        is_active: optional(fc.oneof(fc.constant(false), leaf)),
        is_verified: optional(fc.oneof(fc.constant(true), leaf)),
        parent_user_id: optional(fc.oneof(fc.constantFrom(...userIds), fc.uuid(), leaf)),
      });
    case 'forgot':
    case 'requestVerify':
    case 'getUserId':
      return fc.record({ email });
    case 'reset':
      return fc.record({ token, password: passwordish });
    case 'verify':
      return fc.record({ token });
    case 'createKey':
      return fc.oneof(fc.record({ name: optional(fc.oneof(anyString, nastyText, leaf)) }), fc.constant(null));
    case 'patchMe':
    case 'patchUser':
      return update;
    default:
      return anyJson;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks shared by every property

const LOGIN_BAD = { detail: 'LOGIN_BAD_CREDENTIALS' };
/** D25: an unsafe request naming a foreign origin is refused before anything else. */
const FOREIGN_ORIGIN = { detail: 'CSRF check failed: the request comes from an origin that is not allowed' };

function describeRequest(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined, res: HttpResult): string {
  const shown = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.length > 120 ? `${v.slice(0, 120)}…(${v.length})` : v]));
  const b = body ? body.toString('utf8') : '';
  return `${method} ${path.slice(0, 200)} headers=${JSON.stringify(shown)} body(${b.length})=${JSON.stringify(b.slice(0, 200))} → ${res.status} ${res.text.slice(0, 300)}`;
}

/** Properties 1, 3 and the leak half of 2, for any answer. */
function checkAnswer(what: string, res: HttpResult, sent: string, secrets: readonly string[]) {
  assert.ok(res.status < 500, `(1) 5xx: ${what}`);
  assert.notEqual(res.status, 431, `headers were under the limit: ${what}`);
  if (res.status >= 400) {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `(3) error is JSON: ${what}`);
    const body = res.body as Record<string, unknown> | undefined;
    assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), `(3) error body is an object: ${what}`);
    const apiKeyEnvelope = typeof (body.error as { message?: unknown } | undefined)?.message === 'string';
    assert.ok('detail' in body || apiKeyEnvelope, `(3) error envelope: ${what}`);
  }
  assert.doesNotMatch(res.text, /node_modules|\bat [\w.<>$]+ \(|\.[jt]s:\d+:\d+/, `no stack trace: ${what}`);
  const answer = res.text.toLowerCase() + '\n' + [...res.headers.values()].join('\n').toLowerCase();
  for (const secret of secrets) {
    const s = secret.toLowerCase();
    if (!sent.includes(s)) assert.ok(!answer.includes(s), `(2) the answer carries another user's ${secret}: ${what}`);
  }
}

async function sendRaw(c: Client, method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<HttpResult> {
  return c.request(method, path, { ...(body !== undefined ? { raw: body } : {}), headers, cookies: false });
}

function credentialHeaders(creds: Credentials): Record<string, string> {
  const h: Record<string, string> = {};
  if (creds.authorization !== undefined) h.authorization = creds.authorization;
  if (creds.apiKey !== undefined) h['x-api-key'] = creds.apiKey;
  if (creds.cookie !== undefined) h.cookie = creds.cookie;
  return h;
}

/** The password a PATCH body may carry, read as JSON and as a form (the server picks by content type). */
function passwordsIn(body: Buffer): string[] {
  const text = body.toString('utf8');
  const out: string[] = [];
  try {
    const parsed = JSON.parse(text) as { password?: unknown };
    if (typeof parsed?.password === 'string') out.push(parsed.password);
  } catch {
    // not JSON
  }
  for (const [k, v] of new URLSearchParams(text)) if (k === 'password') out.push(v);
  return out;
}

const USER_READ_KEYS = ['email', 'id', 'is_active', 'is_superuser', 'is_verified', 'parent_user_id', 'tenant_id'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function integrity(server: TestServer) {
  const db = server.engram.store.db;
  const orphanUsers = await sql<{ id: string }>`select u.id from users u left join principals p on p.id = u.id where p.id is null or p.type <> 'user'`.execute(
    db,
  );
  assert.deepEqual(orphanUsers.rows, [], '(6) every users row has a user principal');
  const danglingPrincipals = await sql<{
    id: string;
  }>`select p.id from principals p left join users u on u.id = p.id where p.type = 'user' and u.id is null`.execute(db);
  assert.deepEqual(danglingPrincipals.rows, [], '(6) every user principal has a users row');
  const orphanKeys = await sql<{ id: string }>`select k.id from user_api_key k left join users u on u.id = k.user_id where u.id is null`.execute(db);
  assert.deepEqual(orphanKeys.rows, [], '(6) every API key belongs to a user');
}

async function countUsers(server: TestServer): Promise<number> {
  const row = await server.engram.store.db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every auth route (authentication required, rate limits off, 16 KiB body limit)', () => {
  let server: TestServer;
  let c: Client;
  const ADMIN_EMAIL = 'root-admin@example.com';
  const ADMIN_PASSWORD = strongPassword();
  let admin: { id: string; token: string };
  let known: { email: string; password: string; id: string; apiKey: string; apiKeyId: string };
  let target: { email: string; id: string };
  let sandbox: { email: string; password: string; id: string; apiKey: string; apiKeyId: string; token: string };
  let usersBefore: number;
  let registered = 0;
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  before(async () => {
    server = await startTestServer({
      env: {
        REQUIRE_AUTHENTICATION: 'true',
        HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
        DEFAULT_USER_EMAIL: ADMIN_EMAIL,
        DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
      },
    });
    c = server.client();
    const adminToken = await c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const adminMe = await c.get('/api/v1/users/me', { bearer: adminToken, cookies: false });
    assert.equal(adminMe.body.is_superuser, true);
    admin = { id: adminMe.body.id, token: adminToken };

    const knownEmail = uniqueEmail('known');
    const knownUser = await server.client().signUp(knownEmail);
    const knownKey = await c.post('/api/v1/auth/api-keys', { json: { name: 'known' }, bearer: knownUser.token, cookies: false });
    assert.equal(knownKey.status, 200);
    known = { email: knownEmail, password: knownUser.password, id: knownUser.id, apiKey: knownKey.body.key, apiKeyId: knownKey.body.id };

    const targetEmail = uniqueEmail('target');
    target = { email: targetEmail, id: (await server.client().signUp(targetEmail)).id };

    const sandboxEmail = uniqueEmail('sandbox');
    const sb = await server.client().signUp(sandboxEmail);
    const sbKey = await c.post('/api/v1/auth/api-keys', { json: { name: 'sandbox' }, bearer: sb.token, cookies: false });
    sandbox = { email: sandboxEmail, password: sb.password, id: sb.id, apiKey: sbKey.body.key, apiKeyId: sbKey.body.id, token: sb.token };
    usersBefore = await countUsers(server);
  });
  after(() => server?.close());

  /** Everything an anonymous caller or another user must never see. */
  const othersSecrets = () => [known.email, known.id, known.apiKey, known.apiKeyId, ADMIN_EMAIL, admin.id, ADMIN_PASSWORD, known.password];

  it('(1)(2)(3) anonymous requests with arbitrary bodies, content types, path ids and credentials: no 5xx, no 2xx on a protected route, JSON error envelopes, no other user in an answer', async () => {
    const userIds = [known.id, admin.id, target.id, sandbox.id];
    const taken = [known.email, ADMIN_EMAIL, target.email];
    const request = fc.constantFrom(...ROUTES).chain((r) =>
      fc.record({
        route: fc.constant(r),
        id: pathIds([...userIds, known.apiKeyId]),
        query: queryString,
        payload: r.method === 'GET' ? fc.constant(undefined) : fc.option(payloadFor(shapedBody(r.key, taken, userIds)), { nil: undefined, freq: 6 }),
        creds: junkCredentials(userIds),
        origin: optional(fc.constantFrom('null', 'http://evil.example', 'http://127.0.0.1', server.url)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers = credentialHeaders(withinBudget(r.creds));
        if (r.payload?.contentType !== undefined) headers['content-type'] = r.payload.contentType;
        if (r.origin !== undefined) headers.origin = r.origin;
        const path = r.route.path.replace('{id}', r.id) + r.query;
        const body = r.payload?.bytes;
        const res = await sendRaw(c, r.route.method, path, headers, body);
        const what = describeRequest(r.route.method, path, headers, body, res);
        checkAnswer(what, res, requestText(path, headers, body), othersSecrets());
        assert.equal(
          res.headers.getSetCookie().some((s) => /^auth_token=[^;]/.test(s)),
          false,
          `no session is issued: ${what}`,
        );

        const plainId = !r.route.path.includes('{id}') || /^[A-Za-z0-9_~-]{1,64}$/.test(r.id);
        if (r.route.method !== 'GET' && r.origin !== undefined && r.origin !== server.url) {
          // D25: refused whatever the route, body and credentials (a path that is not a valid URL
          // component is refused by the router before that: 400).
          if (plainId) assert.deepEqual([res.status, res.body], [403, FOREIGN_ORIGIN], `D25: ${what}`);
          else assert.ok([400, 403].includes(res.status), `D25: ${what}`);
          return;
        }
        if (r.route.protected) {
          assert.ok(res.status < 200 || res.status >= 300, `(2) 2xx without a valid credential: ${what}`);
          assert.ok([400, 401, 404, 413, 415].includes(res.status), `(2) unexpected status: ${what}`);
          if (res.status === 401) assert.deepEqual(res.body, { detail: 'Unauthorized' }, what);
          if (r.route.method === 'GET' && plainId) assert.equal(res.status, 401, `(2) a protected GET without a valid credential is 401: ${what}`);
          return;
        }
        switch (r.route.key) {
          case 'login':
            assert.deepEqual([res.status, res.body], [400, LOGIN_BAD], `(4) ${what}`);
            break;
          case 'register':
            assert.ok([201, 400, 413, 415].includes(res.status), what);
            if (res.status === 201) {
              registered += 1;
              // D10: privilege fields sent to /register are ignored.
              assert.deepEqual(Object.keys(res.body).sort(), USER_READ_KEYS, what);
              assert.match(res.body.id, UUID_RE, what);
              assert.deepEqual(
                [res.body.is_active, res.body.is_superuser, res.body.is_verified, res.body.parent_user_id, res.body.tenant_id],
                [true, false, false, null, null],
                `D10: ${what}`,
              );
            }
            break;
          case 'forgot':
          case 'requestVerify':
            assert.ok([202, 400, 413, 415].includes(res.status), what);
            if (res.status === 202) assert.equal(res.text, 'null', what);
            break;
          case 'reset':
          case 'verify':
            // No generated token is ever valid: a password reset or verification never happens.
            assert.ok([400, 413, 415].includes(res.status), what);
            break;
          case 'root':
            assert.deepEqual([res.status, res.body], [200, { message: 'Hello, World, I am alive!' }], what);
            break;
          case 'health':
            assert.deepEqual([res.status, res.body?.status], [200, 'ready'], what);
            break;
          case 'openapi':
            assert.equal(res.status, 200, what);
            assert.equal(typeof res.body.paths, 'object', what);
            break;
          default:
            assert.fail(`unclassified route ${r.route.key}`);
        }
      }),
      runs(600),
    );
  });

  it('(4) login answers every generated form, multipart, JSON, text, raw or query-string input with exactly 400 LOGIN_BAD_CREDENTIALS and no cookie', async () => {
    const wrongPassword = fc.oneof(
      { weight: 4, arbitrary: anyString },
      { weight: 2, arbitrary: fc.string({ minLength: 8, maxLength: 30 }) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          `${known.password}x`,
          known.password.toUpperCase(),
          known.password.slice(0, -1),
          ` ${known.password}`,
          `${known.password} `,
          '',
          ADMIN_EMAIL,
        ),
      },
    );
    const username = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          known.email,
          known.email.toUpperCase(),
          ` ${known.email} `,
          ADMIN_EMAIL,
          target.email,
          `${known.email}\u0000`,
          `\u0000${known.email}`,
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom(...NASTY_EMAILS) },
      { weight: 2, arbitrary: fc.emailAddress() },
      { weight: 2, arbitrary: anyString },
    );
    const extras = fc.array(
      fc.tuple(fc.constantFrom('scope', 'client_id', 'client_secret', 'grant_type', 'x', '__proto__', 'constructor', 'username', 'password', ''), fieldValue),
      { maxLength: 4 },
    );
    /** Wrong credentials in every encoding. */
    const wrong = fc
      .record({ username, password: wrongPassword, extras, encoding: fc.constantFrom('form', 'form', 'multipart', 'json', 'text', 'query', 'none', 'other') })
      .map(({ username: u, password: pw, extras: x, encoding }) => ({ entries: [['username', u], ['password', pw], ...x] as [string, string][], encoding }));
    /** The right credentials in a shape the reference does not read (JSON, text, query string, a bad grant_type, a file part). */
    const rightButMisshaped = fc.oneof(
      fc.constantFrom('json', 'text', 'query', 'none', 'other', 'multipart-file').map((encoding) => ({
        entries: [
          ['username', known.email],
          ['password', known.password],
        ] as [string, string][],
        encoding,
      })),
      fc
        .string({ maxLength: 12 })
        .filter((g) => g !== 'password')
        .map((g) => ({
          entries: [
            ['username', known.email],
            ['password', known.password],
            ['grant_type', g],
          ] as [string, string][],
          encoding: 'form',
        })),
      fc.constantFrom('username', 'password').map((drop) => ({
        entries: [
          ['username', known.email],
          ['password', known.password],
        ].filter(([k]) => k !== drop) as [string, string][],
        encoding: 'form',
      })),
    );
    const garbage = payloadFor(shapedBody('login', [known.email], [known.id])).map((payload) => ({ payload }));

    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: wrong }, { weight: 2, arbitrary: rightButMisshaped }, { weight: 3, arbitrary: garbage }),
        async (input) => {
          let path = '/api/v1/auth/login';
          const headers: Record<string, string> = {};
          let body: Buffer | undefined;
          if ('payload' in input) {
            body = input.payload.bytes;
            if (input.payload.contentType !== undefined) headers['content-type'] = input.payload.contentType;
          } else {
            const { entries, encoding } = input;
            const obj = Object.fromEntries(entries);
            switch (encoding) {
              case 'form':
                body = Buffer.from(urlEncoded(entries));
                headers['content-type'] = 'application/x-www-form-urlencoded';
                break;
              case 'multipart':
              case 'multipart-file':
                body = Buffer.from(multipartBody(entries, 'fuzzboundary', encoding === 'multipart-file'));
                headers['content-type'] = 'multipart/form-data; boundary=fuzzboundary';
                break;
              case 'json':
                body = Buffer.from(JSON.stringify(obj));
                headers['content-type'] = 'application/json';
                break;
              case 'text':
                body = Buffer.from(urlEncoded(entries));
                headers['content-type'] = 'text/plain';
                break;
              case 'query':
                // The request line counts against the 16 KiB header limit.
                path += `?${urlEncoded(entries).slice(0, HEADER_BUDGET)}`;
                break;
              case 'none':
                body = Buffer.from(urlEncoded(entries));
                break;
              default:
                body = Buffer.from(urlEncoded(entries));
                headers['content-type'] = 'application/xml';
            }
          }
          const res = await sendRaw(c, 'POST', path, headers, body);
          const what = describeRequest('POST', path, headers, body, res);
          checkAnswer(what, res, requestText(path, headers, body), [ADMIN_PASSWORD, known.id, admin.id]);
          assert.deepEqual([res.status, res.body], [400, LOGIN_BAD], `(4) ${what}`);
          assert.deepEqual(res.headers.getSetCookie(), [], `(4) a failed login sets no cookie: ${what}`);
        },
      ),
      runs(250),
    );
  });

  it('(1)(2)(3) D5 D6: a regular user sending arbitrary bodies, path ids and extra junk credentials is answered only about itself, never 401, never 5xx', async () => {
    const userIds = [known.id, admin.id, target.id, sandbox.id];
    const taken = [known.email, ADMIN_EMAIL, target.email];
    const ownKeys = new Set<string>([sandbox.apiKeyId]);
    const corsOrigins = server.engram.config.http.corsOrigins;
    const protectedRoutes = ROUTES.filter((r) => r.protected);
    const relogin = async () => {
      sandbox.token = await c.login(sandbox.email, sandbox.password);
    };
    const request = fc.constantFrom(...protectedRoutes).chain((r) =>
      fc.record({
        route: fc.constant(r),
        // Everyone's ids, or "own-key": one of the caller's spare keys, chosen at run time.
        id: fc.oneof(pathIds([...userIds, known.apiKeyId]), fc.constant('own-key')),
        payload: r.method === 'GET' ? fc.constant(undefined) : fc.option(payloadFor(shapedBody(r.key, taken, userIds)), { nil: undefined, freq: 6 }),
        via: fc.constantFrom('api_key', 'bearer', 'cookie'),
        junk: junkCredentials(userIds),
        origin: fc.option(fc.constantFrom(server.url, ...corsOrigins, 'null', 'http://evil.example', `${server.url}.evil.example`, 'http://127.0.0.1'), {
          nil: undefined,
        }),
        referer: fc.option(fc.constantFrom(`${server.url}/ui`, 'http://evil.example/', 'not a url', `${server.url}@evil.example/`), { nil: undefined }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        // Junk may ride along in the other credential slots; the valid one must still win (D6).
        const creds: Credentials = withinBudget(r.junk);
        if (r.via === 'api_key') creds.apiKey = sandbox.apiKey;
        if (r.via === 'bearer') creds.authorization = `Bearer ${sandbox.token}`;
        if (r.via === 'cookie') creds.cookie = `auth_token=${sandbox.token}`;
        const headers = credentialHeaders(creds);
        if (r.payload?.contentType !== undefined) headers['content-type'] = r.payload.contentType;
        if (r.origin !== undefined) headers.origin = r.origin;
        if (r.referer !== undefined) headers.referer = r.referer;
        const spare = [...ownKeys].filter((k) => k !== sandbox.apiKeyId);
        const id = r.id === 'own-key' ? (spare[0] ?? '00000000-0000-4000-8000-000000000000') : r.id;
        const path = r.route.path.replace('{id}', id);
        const body = r.payload?.bytes;
        const res = await sendRaw(c, r.route.method, path, headers, body);
        const what = `via ${r.via}: ${describeRequest(r.route.method, path, headers, body, res)}`;
        const sent = requestText(path, headers, body);
        // get-user-id answers any authenticated caller with the id behind an exact e-mail (as the reference).
        const lookedUp =
          r.route.key === 'getUserId'
            ? [
                [known.email, known.id],
                [ADMIN_EMAIL, admin.id],
                [target.email, target.id],
              ]
                .filter(([e]) => sent.includes(e!.toLowerCase()))
                .map(([, i]) => i!)
            : [];
        checkAnswer(
          what,
          res,
          sent,
          othersSecrets().filter((x) => !lookedUp.includes(x)),
        );
        assert.notEqual(res.status, 401, `D6: a valid ${r.via} credential is never 401: ${what}`);
        const ok = res.status >= 200 && res.status < 300;
        if (ok && r.via === 'cookie' && r.route.method !== 'GET') {
          const origin =
            r.origin !== undefined && r.origin !== 'null'
              ? r.origin
              : r.referer !== undefined
                ? URL.canParse(r.referer)
                  ? new URL(r.referer).origin
                  : undefined
                : undefined;
          assert.ok(
            origin === server.url || (origin !== undefined && corsOrigins.includes(origin)),
            `D5: a cookie-only unsafe request from ${origin} succeeded: ${what}`,
          );
        }
        if (ok && r.route.method !== 'GET') {
          // D25: whatever the credential, an unsafe request that succeeded named no origin or an allowed one.
          const named =
            r.origin !== undefined && r.origin !== 'null'
              ? r.origin
              : r.referer !== undefined
                ? URL.canParse(r.referer)
                  ? new URL(r.referer).origin
                  : 'null'
                : r.origin;
          assert.ok(named === undefined || named === server.url || corsOrigins.includes(named), `D25: an unsafe request from ${named} succeeded: ${what}`);
        }
        if (!ok) {
          if (['getUser', 'patchUser', 'deleteUser'].includes(r.route.key) && r.id !== 'me') assert.ok([400, 403, 404, 413, 415].includes(res.status), what);
          return;
        }
        const key = r.id === 'me' && r.route.key === 'getUser' ? 'usersMe' : r.id === 'me' && r.route.key === 'patchUser' ? 'patchMe' : r.route.key;
        switch (key) {
          case 'authMe':
            assert.deepEqual(res.body, { email: sandbox.email }, what);
            break;
          case 'usersMe':
          case 'patchMe': {
            assert.deepEqual(Object.keys(res.body).sort(), USER_READ_KEYS, what);
            assert.deepEqual(
              [res.body.id, res.body.is_active, res.body.is_superuser],
              [sandbox.id, true, false],
              `a user cannot raise its own privileges: ${what}`,
            );
            if (key === 'patchMe') {
              assert.ok(![known.email, ADMIN_EMAIL, target.email].includes(String(res.body.email).toLowerCase()), `took another user's e-mail: ${what}`);
              sandbox.email = res.body.email;
              // A password change ends every session (D3), and the new password logs in.
              if ((await c.get('/api/v1/auth/me', { bearer: sandbox.token, cookies: false })).status === 401) {
                let changed = false;
                for (const candidate of passwordsIn(body!)) {
                  const login = await c.post('/api/v1/auth/login', { form: { username: sandbox.email, password: candidate }, cookies: false });
                  if (login.status === 200) {
                    sandbox.password = candidate;
                    sandbox.token = login.body.access_token;
                    changed = true;
                    break;
                  }
                }
                assert.ok(changed, `D3: sessions ended, so the password changed, and the new one must log in: ${what}`);
              }
            }
            break;
          }
          case 'listKeys':
            assert.ok(Array.isArray(res.body), what);
            for (const k of res.body as { id: string }[]) assert.ok(ownKeys.has(k.id), `listed a key that is not the caller's: ${what}`);
            assert.equal(res.body.length, ownKeys.size, what);
            break;
          case 'createKey':
            assert.match(res.body.key, /^[0-9a-f]{64}$/, what);
            assert.match(res.body.id, UUID_RE, what);
            ownKeys.add(res.body.id);
            // Stay under MAX_USER_API_KEYS most of the time, so creations keep reaching the store.
            if (ownKeys.size > 5) {
              const del = await c.delete(`/api/v1/auth/api-keys/${res.body.id}`, { apiKey: sandbox.apiKey, cookies: false });
              assert.deepEqual([del.status, del.text], [200, 'null'], what);
              ownKeys.delete(res.body.id);
            }
            break;
          case 'deleteKey':
            assert.ok(ownKeys.has(id.toLowerCase()) && id.toLowerCase() !== sandbox.apiKeyId, `deleted a key that is not the caller's spare: ${what}`);
            assert.equal(res.text, 'null', what);
            ownKeys.delete(id.toLowerCase());
            break;
          case 'getUserId':
            assert.ok([sandbox.id, ...lookedUp].includes(res.body.user_id), what);
            assert.deepEqual(Object.keys(res.body), ['user_id'], what);
            break;
          case 'logout':
            assert.deepEqual(res.body, {}, what);
            if (r.via !== 'api_key') await relogin();
            break;
          default:
            assert.fail(`(2) a regular user got ${res.status} from ${r.route.key}: ${what}`);
        }
      }),
      runs(400),
    );
    // Nobody else's key went away.
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: known.apiKey, cookies: false })).status, 200);
  });

  it('(1)(3) a superuser sending arbitrary bodies and ids to GET/PATCH/DELETE /users/{id} never gets a 5xx and only touches the addressed user', async () => {
    const taken = [known.email, ADMIN_EMAIL, sandbox.email];
    const request = fc.oneof(
      fc.record({
        route: fc.constantFrom(route('getUser'), route('patchUser')),
        // ("me" would address the superuser itself through /users/me.)
        id: fc.oneof(
          fc.constantFrom(target.id, target.id.toUpperCase()),
          pathIds([]).filter((id) => id !== 'me'),
        ),
        payload: payloadFor(shapedBody('patchUser', taken, [known.id])),
      }),
      // Deleting only ever addresses users that do not exist.
      fc.record({ route: fc.constant(route('deleteUser')), id: pathIds([]), payload: fc.constant(undefined) }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = { authorization: `Bearer ${admin.token}` };
        const body = r.route.method === 'GET' ? undefined : r.payload?.bytes;
        if (body && r.payload?.contentType !== undefined) headers['content-type'] = r.payload.contentType;
        const path = r.route.path.replace('{id}', r.id);
        const res = await sendRaw(c, r.route.method, path, headers, body);
        const what = describeRequest(r.route.method, path, headers, body, res);
        checkAnswer(what, res, requestText(path, headers, body), [ADMIN_PASSWORD, known.password, known.apiKey]);
        if (res.status >= 200 && res.status < 300) {
          assert.notEqual(r.route.key, 'deleteUser', `deleted a user that does not exist: ${what}`);
          assert.equal(res.body.id, target.id, what);
          assert.ok(![known.email, ADMIN_EMAIL, sandbox.email].includes(String(res.body.email).toLowerCase()), `took another user's e-mail: ${what}`);
          target.email = res.body.email;
        } else if (r.route.key === 'deleteUser') {
          assert.ok([400, 404].includes(res.status), what);
        }
      }),
      runs(200),
    );
    assert.equal((await c.get(`/api/v1/users/${target.id}`, { bearer: admin.token, cookies: false })).status, 200);
  });

  it('(5) bodies over HTTP_BODY_LIMIT_BYTES, with a length or chunked, get 413 {"detail"} (login: 400 LOGIN_BAD_CREDENTIALS) and the server keeps serving', async () => {
    const bodyRoutes = ROUTES.filter((r) => r.method !== 'GET');
    const input = fc.record({
      route: fc.constantFrom(...bodyRoutes),
      size: fc.integer({ min: BODY_LIMIT + 1, max: 4 * BODY_LIMIT }),
      encoding: fc.constantFrom('json', 'form', 'text', 'none'),
      chunked: fc.boolean(),
      authenticated: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ route: r, size, encoding, chunked, authenticated }) => {
        const filler = 'x'.repeat(size);
        const text =
          encoding === 'json'
            ? JSON.stringify({ email: 'big@example.com', password: filler, name: 'n', token: 't' })
            : encoding === 'form'
              ? `username=big%40example.com&password=${filler}&email=big%40example.com`
              : filler;
        const headers: Record<string, string> = {};
        if (encoding === 'json') headers['content-type'] = 'application/json';
        if (encoding === 'form') headers['content-type'] = 'application/x-www-form-urlencoded';
        if (encoding === 'text') headers['content-type'] = 'text/plain';
        if (authenticated) headers['x-api-key'] = sandbox.apiKey;
        const bytes = Buffer.from(text);
        const path = r.path.replace('{id}', target.id);
        let res: { status: number; text: string };
        if (chunked) {
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.subarray(i, i + 4096));
              controller.close();
            },
          });
          const response = await fetch(server.url + path, { method: r.method, headers, body: stream, duplex: 'half' } as RequestInit);
          res = { status: response.status, text: await response.text() };
        } else {
          const out = await sendRaw(c, r.method, path, headers, bytes);
          res = { status: out.status, text: out.text };
        }
        const what = `${r.method} ${path} ${encoding} ${chunked ? 'chunked' : 'length'} ${size} bytes → ${res.status} ${res.text.slice(0, 200)}`;
        if (r.key === 'login') {
          assert.deepEqual([res.status, JSON.parse(res.text)], [400, LOGIN_BAD], `(4)(5) ${what}`);
        } else if (encoding !== 'json') {
          // D25: a body of a type the route does not declare (or of none) is never read: refused before its size matters.
          assert.deepEqual([res.status, JSON.parse(res.text)], [415, { detail: 'Unsupported Media Type' }], what);
        } else {
          assert.deepEqual([res.status, JSON.parse(res.text)], [413, { detail: 'Request body is too large' }], `(5) ${what}`);
        }
        const health = await c.get('/health');
        assert.equal(health.status, 200, `(5) still serving after ${what}`);
      }),
      runs(80),
    );
  });

  it('malformed HTTP on raw sockets (431 for >16 KiB headers, truncated bodies, bad chunking, smuggling shapes, slow and half-closed connections) leaves the server answering', async () => {
    const { hostname, port } = new URL(server.url);
    /** Writes the chunks (with pauses), then waits for the server to answer or close. */
    const raw = (chunks: (string | Buffer)[], options: { pauseMs?: number; endAfter?: boolean; waitMs?: number } = {}) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname);
        let received = '';
        const finish = () => {
          clearTimeout(timer);
          socket.destroy();
          resolve(received);
        };
        const timer = setTimeout(finish, options.waitMs ?? 1500);
        socket.on('data', (d) => (received += d.toString('latin1')));
        socket.on('error', finish);
        socket.on('close', finish);
        socket.on('connect', async () => {
          for (const chunk of chunks) {
            if (socket.destroyed) return;
            socket.write(chunk);
            if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
          }
          if (options.endAfter) socket.end();
        });
      });
    const statusOf = (answer: string) => /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
    const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);
    const stillServing = async (after: string) => {
      const health = await c.get('/health');
      assert.equal(health.status, 200, `GET /health after ${after}`);
    };

    // Headers over 16 KiB: 431 with the JSON envelope, before any route runs.
    const huge = await raw([`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`]);
    assert.equal(statusOf(huge), '431', huge.slice(0, 200));
    assert.equal(typeof JSON.parse(bodyOf(huge)).detail, 'string', huge);
    const hugeCookie = await raw([`GET /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: auth_token=${'b'.repeat(20000)}\r\n\r\n`]);
    assert.equal(statusOf(hugeCookie), '431', hugeCookie.slice(0, 200));
    await stillServing('oversized headers');

    // A large Content-Length and then the client goes away mid-body.
    const truncated = await raw(
      [
        'POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 16000\r\n\r\n{"email":"trunc@example.com","pass',
      ],
      { waitMs: 300 },
    );
    assert.equal(truncated, '', 'nothing is answered before the body is complete');
    await raw(
      ['POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9999\r\n\r\nusername=a'],
      {
        endAfter: true,
        waitMs: 500,
      },
    );
    await stillServing('truncated bodies');

    // Invalid chunked encoding: 400 with the JSON envelope.
    for (const payload of [
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nZZ\r\nbad\r\n0\r\n\r\n',
      'POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\n{"a":1}\r\n0\r\n\r\n',
      'POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
    ]) {
      const answer = await raw([payload]);
      assert.equal(statusOf(answer), '400', `${JSON.stringify(payload)} → ${answer.slice(0, 200)}`);
      assert.equal(typeof JSON.parse(bodyOf(answer)).detail, 'string', answer);
    }
    await stillServing('invalid chunked encoding');

    // Request-smuggling shapes and broken request lines are refused by the parser with 400.
    for (const payload of [
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/v1/users/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd',
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\u0000b\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET /health HTTP/1.1\r\nHo st: x\r\n\r\n',
      'GARBAGE / HTTP/9.9\r\n\r\n',
      'GET /api/v1/auth/me HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer \u00ff\u00fe\n\n\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003',
    ]) {
      const answer = await raw([Buffer.from(payload, 'latin1')]);
      const status = statusOf(answer);
      assert.ok(status === undefined || (Number(status) >= 400 && Number(status) < 500), `${JSON.stringify(payload)} → ${answer.slice(0, 200)}`);
    }
    await stillServing('malformed requests');

    // Valid requests on a raw socket: pipelined, and a path that is not a valid URL component.
    const pipelined = await raw([
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer a.b.c\r\nConnection: close\r\n\r\n',
    ]);
    assert.deepEqual(
      [...pipelined.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
      ['200', '401'],
      pipelined.slice(0, 300),
    );
    const badUrl = await raw(['GET /api/v1/users/%zz"%E0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
    assert.equal(statusOf(badUrl), '400', badUrl.slice(0, 300));
    assert.equal(typeof JSON.parse(bodyOf(badUrl)).detail, 'string', badUrl);

    // Slow and half-closed connections: a byte at a time, then gone; a request that never ends
    // while other clients are served.
    await raw([...'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len'], { pauseMs: 5, waitMs: 100 });
    // A client that half-closes right after its request (Node aborts the request; no answer is owed).
    await raw(['GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], { endAfter: true });
    const lingering = raw(['POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{'], {
      waitMs: 1000,
    });
    await stillServing('a request that has not finished');
    await lingering;
    await stillServing('slow and half-closed connections');
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: known.email, password: known.password }, cookies: false })).status, 200);
  });

  it('(6) after the fuzzing the known user still logs in, user counts moved only by registrations, no record is half-written, no prototype was polluted', async () => {
    const login = await server.client().post('/api/v1/auth/login', { form: { username: known.email, password: known.password } });
    assert.equal(login.status, 200, login.text);
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: known.apiKey, cookies: false })).body.email, known.email);
    const me = await c.get('/api/v1/users/me', { bearer: login.body.access_token, cookies: false });
    assert.deepEqual([me.body.id, me.body.email, me.body.is_superuser, me.body.is_active], [known.id, known.email, false, true]);
    assert.equal(await countUsers(server), usersBefore + registered);
    await integrity(server);
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype was not polluted');
    assert.equal(({} as Record<string, unknown>).is_superuser, undefined);
    assert.equal((await c.get('/health')).status, 200);
  });
});

// ---------------------------------------------------------------------------------------------

describe('fuzzing tokens signed with the server secret but carrying arbitrary claims (D1, D2)', () => {
  const SECRET = 'fuzz-secret-'.padEnd(48, 'k');
  const AUD = 'fastapi-users:auth';
  let server: TestServer;
  let c: Client;
  let known: { email: string; id: string; password: string };
  let usersBefore: number;

  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', FASTAPI_USERS_JWT_SECRET: SECRET } });
    c = server.client();
    const email = uniqueEmail('claims');
    const user = await server.client().signUp(email);
    known = { email, id: user.id, password: user.password };
    usersBefore = await countUsers(server);
  });
  after(() => server?.close());

  it('D1 D2: a validly signed token authenticates exactly when its claims are well-formed; malformed claims are 401, never 5xx; provisioning leaves no half-written rows', async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const text = fc.oneof(
      { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
      { weight: 2, arbitrary: fc.string({ unit: weirdUnit, maxLength: 12 }) },
      { weight: 1, arbitrary: fc.constantFrom('', '   ', '\u0000', 'x'.repeat(256), 'y'.repeat(255), '__proto__', 'constructor') },
    );
    const time = (future: boolean) =>
      fc.oneof(
        fc.integer({ min: 120, max: 10 ** 6 }).map((d) => ({ rel: future ? d : -d })),
        fc.constant({ rel: future ? 1e12 : -1e9 }),
      );
    const claims = fc.record({
      kind: fc.constantFrom('issued', 'external'),
      subject: fc.oneof(fc.constant(known.id), fc.constant(known.id.toUpperCase()), fc.uuid(), text),
      aud: fc.oneof(
        fc.constant([AUD]),
        fc.constant(AUD),
        fc.constant([AUD, 'other']),
        fc.constant(['other']),
        fc.constant('fastapi-users:verify'),
        fc.constant([]),
      ),
      exp: fc.oneof(
        { weight: 5, arbitrary: time(true) },
        { weight: 1, arbitrary: time(false) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, '9999999999', null, 1.5e9 + 0.5) },
      ),
      nbf: fc.oneof(
        { weight: 5, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: time(false) },
        { weight: 1, arbitrary: time(true) },
        { weight: 1, arbitrary: fc.constant<unknown>('0') },
      ),
      iat: fc.oneof(fc.constant<unknown>(undefined), time(false), fc.constantFrom<unknown>('now', -1e300, 1e300)),
      jti: fc.oneof(fc.constant<unknown>(undefined), fc.uuid(), text, fc.constant<unknown>(42)),
      tenant: fc.oneof(fc.constant<unknown>(undefined), fc.constant(null), text, fc.constantFrom<unknown>(7, ['t'], { id: 't' })),
      roles: fc.oneof(
        fc.constant<unknown>(undefined),
        fc.constant(null),
        fc.array(text, { maxLength: 4 }),
        fc.constantFrom<unknown>(
          'admin',
          [1],
          Array.from({ length: 101 }, (_, i) => `r${i}`),
          {},
        ),
      ),
      route: fc.constantFrom('/api/v1/auth/me', '/api/v1/users/me', '/api/v1/auth/api-keys', '/api/v1/auth/logout'),
      via: fc.constantFrom('bearer', 'cookie'),
    });
    const revoked = new Set<string>();
    const provisioned = new Set<string>();
    const existingIds = new Set<string>([known.id]);

    /** The D1/D2 rules, stated independently of the server. */
    const model = (p: Record<string, unknown>, token: string): { userId: string } | undefined => {
      const t = now();
      for (const claim of ['exp', 'nbf', 'iat'] as const) {
        if (p[claim] !== undefined && typeof p[claim] !== 'number') return undefined;
      }
      if (typeof p.exp === 'number' && p.exp <= t) return undefined;
      if (typeof p.nbf === 'number' && p.nbf > t) return undefined;
      if (p.exp === undefined) return undefined;
      const uuid = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
      const noNul = (v: string) => !v.includes('\u0000');
      const revocationId = typeof p.jti === 'string' ? p.jti : `token:${token}`;
      if (typeof p.jti === 'string' && !noNul(p.jti)) return undefined;
      // The denylist is keyed by jti and consulted for users that exist (the user of a revoked token
      // always does); a never-seen external user whose token reuses someone else's jti is not refused.
      const subject = typeof (p.aud !== undefined ? p.sub : p.user_id) === 'string' ? ((p.aud !== undefined ? p.sub : p.user_id) as string).toLowerCase() : '';
      if (revoked.has(revocationId) && existingIds.has(subject)) return undefined;
      if (p.aud !== undefined) {
        const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
        if (!aud.includes(AUD) || !uuid(p.sub)) return undefined;
        const id = (p.sub as string).toLowerCase();
        return existingIds.has(id) ? { userId: id } : undefined;
      }
      if (!uuid(p.user_id)) return undefined;
      const tenant = p.tenant_id;
      if (tenant !== undefined && tenant !== null) {
        if (typeof tenant !== 'string' || tenant.trim() === '' || tenant.length > 255 || !noNul(tenant)) return undefined;
      }
      const roles = p.roles ?? [];
      if (!Array.isArray(roles) || roles.length > 100) return undefined;
      if (!roles.every((r) => typeof r === 'string' && r.trim() !== '' && r.length <= 255 && noNul(r))) return undefined;
      return { userId: (p.user_id as string).toLowerCase() };
    };

    await fc.assert(
      fc.asyncProperty(claims, async (cl) => {
        const t = now();
        const at = (v: unknown) => (v !== null && typeof v === 'object' && 'rel' in v ? t + (v as { rel: number }).rel : v);
        const payload: Record<string, unknown> = {};
        if (cl.kind === 'issued') {
          payload.sub = cl.subject;
          payload.aud = cl.aud;
        } else {
          payload.user_id = cl.subject;
          payload.sub = known.id; // ignored for external tokens (D2)
          if (cl.tenant !== undefined) payload.tenant_id = cl.tenant;
          if (cl.roles !== undefined) payload.roles = cl.roles;
        }
        for (const [k, v] of [
          ['exp', at(cl.exp)],
          ['nbf', at(cl.nbf)],
          ['iat', at(cl.iat)],
          ['jti', cl.jti],
        ] as const) {
          if (v !== undefined) payload[k] = v;
        }
        const token = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET));
        const expected = model(payload, token);
        const headers: Record<string, string> =
          cl.via === 'bearer' ? { authorization: `Bearer ${token}` } : { cookie: `auth_token=${token}`, origin: server.url };
        const method = cl.route.endsWith('logout') ? 'POST' : 'GET';
        const res = await sendRaw(c, method, cl.route, headers, undefined);
        const what = `${method} ${cl.route} via ${cl.via} claims=${JSON.stringify(payload).slice(0, 400)} expected ${expected ? 'accepted' : 'rejected'} → ${res.status} ${res.text.slice(0, 200)}`;
        checkAnswer(what, res, requestText(cl.route, headers, undefined), [known.password]);
        if (!expected) {
          assert.deepEqual([res.status, res.body], [401, { detail: 'Unauthorized' }], what);
          return;
        }
        assert.equal(res.status, 200, what);
        if (!existingIds.has(expected.userId)) provisioned.add(expected.userId);
        existingIds.add(expected.userId);
        const email = expected.userId === known.id ? known.email : `${expected.userId}@external.invalid`;
        if (cl.route === '/api/v1/auth/me') assert.deepEqual(res.body, { email }, what);
        if (cl.route === '/api/v1/users/me') assert.deepEqual([res.body.id, res.body.email, res.body.is_superuser], [expected.userId, email, false], what);
        if (cl.route === '/api/v1/auth/logout') {
          revoked.add(typeof payload.jti === 'string' ? payload.jti : `token:${token}`);
          assert.deepEqual((await sendRaw(c, 'GET', '/api/v1/auth/me', headers, undefined)).status, 401, `D3: the token is revoked: ${what}`);
        }
      }),
      runs(300),
    );
    assert.equal(await countUsers(server), usersBefore + provisioned.size, 'users grew only by provisioned external users');
    await integrity(server);
    const db = server.engram.store.db;
    for (const table of ['tenants', 'roles'] as const) {
      const orphans = await sql<{ id: string }>`select t.id from ${sql.table(table)} t left join principals p on p.id = t.id where p.id is null`.execute(db);
      assert.deepEqual(orphans.rows, [], `every ${table} row has a principal`);
    }
    assert.equal((await server.client().post('/api/v1/auth/login', { form: { username: known.email, password: known.password } })).status, 200);
  });
});
