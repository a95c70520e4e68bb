/**
 * A real SMTP server on loopback (smtp-server) that keeps what it receives, for the suites that
 * check e-mail delivery (D10) and follow the links in it.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly auth?: { readonly method: string; readonly username: string; readonly password: string };
}

export interface Smtp {
  readonly port: number;
  readonly messages: Received[];
  readonly authAttempts: { method: string; username: string; password: string; accepted: boolean }[];
  close(): Promise<void>;
}

/** Undoes quoted-printable or base64 transfer encoding of a single-part text body. */
function decodeBody(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '7bit').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

function parseMessage(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: decodeBody(raw.slice(split + 4), headers['content-transfer-encoding']) };
}

/** A local SMTP server; with `credentials`, AUTH is required and only those credentials pass. */
export function startSmtp(credentials?: { username: string; password: string }): Promise<Smtp> {
  const messages: Received[] = [];
  const authAttempts: Smtp['authAttempts'] = [];
  const server = new SMTPServer({
    authOptional: credentials === undefined,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, callback) {
      const attempt = { method: auth.method, username: auth.username ?? '', password: auth.password ?? '' };
      const accepted = credentials !== undefined && attempt.username === credentials.username && attempt.password === credentials.password;
      authAttempts.push({ ...attempt, accepted });
      if (!accepted) return callback(new Error('Invalid username or password'));
      callback(null, { user: attempt });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const { headers, body } = parseMessage(Buffer.concat(chunks).toString('utf8'));
        const user = session.user as Received['auth'] | undefined;
        messages.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          headers,
          body,
          ...(user ? { auth: user } : {}),
        });
        callback();
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.server.address() as AddressInfo).port,
        messages,
        authAttempts,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
