import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';
import { startSmtp, type Received, type Smtp } from '../helpers/smtp.js';

/**
 * D10: with SMTP_* set, reset and verification tokens are delivered by e-mail (to a real SMTP
 * server started by the test) and never written to the log; without a working SMTP server the
 * routes still answer as usual and the failure is logged without the token.
 */

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

const JWT_RE = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

/** Waits for exactly one new message after `before`, and checks that no second one follows. */
async function oneNewMessage(smtp: Smtp, before: number): Promise<Received> {
  await eventually(async () => smtp.messages.length > before, 10_000);
  await settle(200);
  assert.equal(smtp.messages.length, before + 1, 'exactly one e-mail');
  return smtp.messages[before]!;
}

async function register(c: Client, email: string) {
  const password = strongPassword();
  const res = await c.post('/api/v1/auth/register', { json: { email, password } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, email, password };
}

async function loginStatus(c: Client, username: string, password: string): Promise<number> {
  const res = await c.post('/api/v1/auth/login', { form: { username, password }, cookies: false });
  c.jar.clear();
  return res.status;
}

const PUBLIC_URL = 'https://memory.example.test';

describe('D10: account e-mails through SMTP', () => {
  let smtp: Smtp;
  let server: TestServer;

  before(async () => {
    smtp = await startSmtp();
    server = await startTestServer({
      env: {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_FROM: 'Engram Accounts <accounts@example.test>',
        PUBLIC_BASE_URL: `${PUBLIC_URL}/`,
      },
    });
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  it('D10: the startup log names the SMTP server instead of the log fallback', () => {
    assert.ok(server.logs.find(new RegExp(`^e-mail delivery: SMTP via 127\\.0\\.0\\.1:${smtp.port}$`)));
    assert.equal(server.logs.find(/tokens are written to the log/), undefined);
  });

  it('D10: forgot-password sends one e-mail with a reset link and the token; the token is not logged and resets the password', async () => {
    const c = server.client();
    const user = await register(c, uniqueEmail('mail-reset'));
    const before = smtp.messages.length;
    const res = await c.post('/api/v1/auth/forgot-password', { json: { email: user.email.toUpperCase() } });
    assert.deepEqual([res.status, res.text], [202, 'null']);

    const message = await oneNewMessage(smtp, before);
    assert.deepEqual(message.rcptTo, [user.email], 'sent to the stored address');
    assert.equal(message.mailFrom, 'accounts@example.test');
    assert.equal(message.headers.to, user.email);
    assert.equal(message.headers.from, 'Engram Accounts <accounts@example.test>');
    assert.equal(message.headers.subject, 'Reset your Engram password');
    assert.equal(message.auth, undefined, 'no AUTH without SMTP credentials');

    const link = /https:\/\/memory\.example\.test\/reset-password\?token=(\S+)/.exec(message.body);
    assert.ok(link, `a reset link under PUBLIC_BASE_URL in:\n${message.body}`);
    const token = decodeURIComponent(link[1]!);
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(message.body.split(/\r?\n/).includes(token), 'the bare token is in the e-mail too');

    const logs = server.logs.text();
    assert.ok(!logs.includes(token), 'the token is not in the log');
    assert.ok(!JWT_RE.test(logs), 'no token of any kind is in the log');
    assert.equal(server.logs.find(/Reset token:/), undefined);
    const sentLine = () => server.logs.lines.find((l) => l.msg === 'account e-mail sent' && l.userId === user.id);
    await eventually(async () => sentLine() !== undefined, 5000);
    assert.equal(sentLine()!.event, 'reset-password', 'the delivery itself is logged');

    const fresh = strongPassword();
    const reset = await c.post('/api/v1/auth/reset-password', { json: { token, password: fresh } });
    assert.deepEqual([reset.status, reset.text], [200, 'null']);
    assert.equal(await loginStatus(c, user.email, user.password), 400);
    assert.equal(await loginStatus(c, user.email, fresh), 200);
    const again = await c.post('/api/v1/auth/reset-password', { json: { token, password: strongPassword() } });
    assert.deepEqual([again.status, again.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }]);
  });

  it('D10: request-verify-token sends a verification e-mail whose token verifies the address', async () => {
    const c = server.client();
    const user = await register(c, uniqueEmail('mail-verify'));
    const before = smtp.messages.length;
    const res = await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
    assert.deepEqual([res.status, res.text], [202, 'null']);

    const message = await oneNewMessage(smtp, before);
    assert.deepEqual(message.rcptTo, [user.email]);
    assert.equal(message.headers.subject, 'Verify your Engram e-mail address');
    const link = /https:\/\/memory\.example\.test\/verify\?token=(\S+)/.exec(message.body);
    assert.ok(link, `a verification link in:\n${message.body}`);
    const token = decodeURIComponent(link[1]!);
    assert.ok(message.body.split(/\r?\n/).includes(token));
    assert.ok(!server.logs.text().includes(token), 'the token is not in the log');
    assert.equal(server.logs.find(/Verification token:/), undefined);

    const verified = await c.post('/api/v1/auth/verify', { json: { token } });
    assert.equal(verified.status, 200);
    assert.deepEqual([verified.body.id, verified.body.email, verified.body.is_verified], [user.id, user.email, true]);

    // Verified now: asking again sends nothing.
    const count = smtp.messages.length;
    assert.equal((await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } })).status, 202);
    await settle();
    assert.equal(smtp.messages.length, count);
  });

  it('D10: an unknown or inactive address gets no e-mail, and the answer is the same 202 null', async () => {
    const c = server.client();
    const inactive = await register(c, uniqueEmail('mail-off'));
    await server.engram.auth.users.update(inactive.id, { isActive: false });
    const before = smtp.messages.length;
    for (const email of [uniqueEmail('nobody'), inactive.email]) {
      for (const path of ['/api/v1/auth/forgot-password', '/api/v1/auth/request-verify-token']) {
        const res = await c.post(path, { json: { email } });
        assert.deepEqual([res.status, res.text], [202, 'null'], `${path} ${email}`);
      }
    }
    await settle(500);
    assert.equal(smtp.messages.length, before, 'nothing was sent');
  });
});

describe('D10: SMTP credentials', () => {
  const USERNAME = 'engram-mailer';
  const PASSWORD = `smtp-${randomBytes(12).toString('hex')}`;
  let smtp: Smtp;

  before(async () => {
    smtp = await startSmtp({ username: USERNAME, password: PASSWORD });
  });
  after(() => smtp.close());

  it('D10: SMTP_USERNAME and SMTP_PASSWORD are sent with AUTH, and the password never reaches the log', async () => {
    const server = await startTestServer({
      env: {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_USERNAME: USERNAME,
        SMTP_PASSWORD: PASSWORD,
        SMTP_FROM: 'accounts@example.test',
        LOG_LEVEL: 'trace',
      },
    });
    try {
      const c = server.client();
      const user = await register(c, uniqueEmail('mail-auth'));
      const before = smtp.messages.length;
      assert.equal((await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } })).status, 202);
      const message = await oneNewMessage(smtp, before);
      assert.deepEqual(message.rcptTo, [user.email]);
      assert.ok(message.auth, 'the message was sent in an authenticated session');
      assert.deepEqual([message.auth.username, message.auth.password], [USERNAME, PASSWORD]);
      assert.ok(smtp.authAttempts.every((a) => a.accepted));
      assert.ok(!server.logs.text().includes(PASSWORD), 'the SMTP password is not in the log');
    } finally {
      await server.close();
    }
  });

  it('D10: refused SMTP credentials: forgot-password still answers 202; the failure is logged without the password or the token', async () => {
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const server = await startTestServer({
      env: {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_USERNAME: USERNAME,
        SMTP_PASSWORD: wrong,
      },
    });
    try {
      const c = server.client();
      const user = await register(c, uniqueEmail('mail-badauth'));
      const before = smtp.messages.length;
      const res = await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      assert.deepEqual([res.status, res.text], [202, 'null']);
      await eventually(async () => server.logs.find(/^failed to send account e-mail$/) !== undefined, 10_000);
      const failure = server.logs.find(/^failed to send account e-mail$/)!;
      assert.equal(failure.level, 50);
      assert.equal(failure.userId, user.id);
      assert.equal(failure.event, 'reset-password');
      assert.ok(
        smtp.authAttempts.some((a) => a.password === wrong && !a.accepted),
        'the SMTP server saw and refused the login',
      );
      assert.equal(smtp.messages.length, before, 'nothing was delivered');
      const logs = server.logs.text();
      assert.ok(!logs.includes(wrong), 'the SMTP password is not in the log');
      assert.ok(!logs.includes(Buffer.from(`\0${USERNAME}\0${wrong}`).toString('base64')), 'nor its AUTH PLAIN encoding');
      assert.ok(!JWT_RE.test(logs), 'the reset token is not in the log');
    } finally {
      await server.close();
    }
  });
});

describe('D10: SMTP server down', () => {
  it('D10: forgot-password and request-verify-token still answer 202 null; the failure is logged without the token', async () => {
    const server = await startTestServer({
      env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(await closedPort()), SMTP_SECURE: 'false' },
    });
    try {
      const c = server.client();
      const user = await register(c, uniqueEmail('mail-down'));
      const forgot = await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      assert.deepEqual([forgot.status, forgot.text], [202, 'null']);
      const verify = await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
      assert.deepEqual([verify.status, verify.text], [202, 'null']);

      const failures = () => server.logs.lines.filter((l) => l.msg === 'failed to send account e-mail');
      await eventually(async () => failures().length === 2, 10_000);
      assert.deepEqual(
        failures()
          .map((l) => [l.level, l.userId, l.event])
          .sort(),
        [
          [50, user.id, 'reset-password'],
          [50, user.id, 'verify-email'],
        ],
      );
      const logs = server.logs.text();
      assert.ok(!JWT_RE.test(logs), 'no token is in the log');
      assert.equal(server.logs.find(/Reset token:|Verification token:/), undefined, 'no fallback to logging the token');
      // The account is unaffected.
      assert.equal(await loginStatus(c, user.email, user.password), 200);
    } finally {
      await server.close();
    }
  });
});
