import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { eventually, startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** D10: reset and verification tokens go out by e-mail to a real SMTP server started by the test. */
interface Received {
  from: string;
  to: string[];
  raw: string;
  user?: string;
  password?: string;
}

function startSmtp(requireAuth: boolean) {
  const messages: Received[] = [];
  const server = new SMTPServer({
    authOptional: !requireAuth,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, session, callback) {
      (session as unknown as { creds: { user?: string; password?: string } }).creds = { user: auth.username, password: auth.password };
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      stream.on('end', () => {
        const creds = (session as unknown as { creds?: { user?: string; password?: string } }).creds;
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...(creds?.user ? { user: creds.user } : {}),
          ...(creds?.password ? { password: creds.password } : {}),
        });
        callback();
      });
    },
  });
  return new Promise<{ port: number; messages: Received[]; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.server.address() as AddressInfo).port,
        messages,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** Quoted-printable soft line breaks and escapes undone, so links and tokens can be matched. */
function decodeBody(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe('D10: e-mail delivery through SMTP', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let server: TestServer;
  const SMTP_PASSWORD = 'smtp-password-never-logged-1234';

  before(async () => {
    smtp = await startSmtp(true);
    server = await startTestServer({
      env: {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        SMTP_SECURE: 'false',
        SMTP_USERNAME: 'mailer',
        SMTP_PASSWORD,
        SMTP_FROM: 'Engram <engram@example.test>',
        PUBLIC_BASE_URL: 'https://memory.example.test',
      },
    });
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  it('D10: forgot-password e-mails a reset link; the token is not logged and resets the password', async () => {
    const c = server.client();
    const email = uniqueEmail('mail');
    const { password } = await c.signUp(email);
    const before = smtp.messages.length;
    assert.equal((await c.post('/api/v1/auth/forgot-password', { json: { email } })).status, 202);
    await eventually(async () => smtp.messages.length > before, 5000);
    const message = smtp.messages.at(-1)!;
    assert.deepEqual(message.to, [email]);
    assert.equal(message.from, 'engram@example.test');
    assert.equal(message.user, 'mailer');
    assert.equal(message.password, SMTP_PASSWORD);
    const body = decodeBody(message.raw);
    assert.match(body, /Subject: Reset your Engram password/);
    const link = /https:\/\/memory\.example\.test\/reset-password\?token=([A-Za-z0-9._%-]+)/.exec(body);
    assert.ok(link, 'the e-mail holds a link to the reset page');
    const token = decodeURIComponent(link[1]!);
    const logs = server.logs.text();
    assert.ok(!logs.includes(token), 'the token is not written to the log');
    assert.ok(!logs.includes(SMTP_PASSWORD), 'the SMTP password is not written to the log');
    const fresh = strongPassword();
    assert.equal((await c.post('/api/v1/auth/reset-password', { json: { token, password: fresh } })).status, 200);
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: email, password } })).status, 400);
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: email, password: fresh } })).status, 200);
  });

  it('D10: request-verify-token e-mails a verification token that verifies', async () => {
    const c = server.client();
    const email = uniqueEmail('verifymail');
    await c.signUp(email);
    const before = smtp.messages.length;
    assert.equal((await c.post('/api/v1/auth/request-verify-token', { json: { email } })).status, 202);
    await eventually(async () => smtp.messages.length > before, 5000);
    const body = decodeBody(smtp.messages.at(-1)!.raw);
    assert.match(body, /Subject: Verify your Engram e-mail address/);
    const token = decodeURIComponent(/\/verify\?token=([A-Za-z0-9._%-]+)/.exec(body)![1]!);
    const res = await c.post('/api/v1/auth/verify', { json: { token } });
    assert.equal(res.status, 200);
    assert.equal(res.body.is_verified, true);
  });

  it('D10: an unknown address gets no e-mail, and the answer is the same 202', async () => {
    const c = server.client();
    const before = smtp.messages.length;
    const res = await c.post('/api/v1/auth/forgot-password', { json: { email: uniqueEmail('nobody') } });
    assert.deepEqual([res.status, res.text], [202, 'null']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smtp.messages.length, before);
  });
});

describe('D10: SMTP unavailable', () => {
  it('D10: forgot-password still answers 202 and the failure is logged without the token', async () => {
    const smtp = await startSmtp(false);
    const port = smtp.port;
    await smtp.close(); // nothing listens on this port any more
    const server = await startTestServer({ env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port), SMTP_SECURE: 'false' } });
    try {
      const c = server.client();
      const email = uniqueEmail('down');
      await c.signUp(email);
      const res = await c.post('/api/v1/auth/forgot-password', { json: { email } });
      assert.equal(res.status, 202);
      await eventually(async () => server.logs.find(/failed to send account e-mail/) !== undefined, 15000);
      assert.ok(!/Reset token:/.test(server.logs.text()), 'with SMTP configured the token is never logged');
    } finally {
      await server.close();
    }
  });
});
