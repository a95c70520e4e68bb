import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { SmtpConfig } from '../config/index.js';

/**
 * Delivery of reset and verification tokens (D10): by e-mail when SMTP_HOST is set, otherwise
 * written to the log as the reference does (the startup log says which).
 */
export interface AccountMessage {
  readonly kind: 'reset-password' | 'verify-email';
  readonly userId: string;
  readonly to: string;
  readonly token: string;
  /** Where the person completes the step (the web UI page that takes the token). */
  readonly link: string;
}

export interface Mailer {
  readonly mode: 'smtp' | 'log';
  send(message: AccountMessage): Promise<void>;
  close(): void;
}

function render(message: AccountMessage): { subject: string; text: string } {
  if (message.kind === 'reset-password') {
    return {
      subject: 'Reset your Engram password',
      text:
        `Someone asked to reset the password of this account.\n\n` +
        `To choose a new password, open:\n${message.link}\n\n` +
        `Or use this token with POST /api/v1/auth/reset-password:\n${message.token}\n\n` +
        `If it was not you, ignore this message; your password stays as it is.\n`,
    };
  }
  return {
    subject: 'Verify your Engram e-mail address',
    text: `To verify this e-mail address, open:\n${message.link}\n\n` + `Or use this token with POST /api/v1/auth/verify:\n${message.token}\n`,
  };
}

export function createMailer(smtp: SmtpConfig | undefined, log: Logger): Mailer {
  if (!smtp) {
    return {
      mode: 'log',
      async send(message) {
        const line =
          message.kind === 'reset-password'
            ? `User ${message.userId} has forgot their password. Reset token: ${message.token}`
            : `Verification requested for user ${message.userId}. Verification token: ${message.token}`;
        log.info({ event: message.kind, userId: message.userId }, line);
      },
      close() {},
    };
  }
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.username !== undefined ? { auth: { user: smtp.username, pass: smtp.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    mode: 'smtp',
    async send(message) {
      const { subject, text } = render(message);
      await transport.sendMail({ from: smtp.from, to: message.to, subject, text });
      log.info({ event: message.kind, userId: message.userId }, 'account e-mail sent');
    },
    close() {
      transport.close();
    },
  };
}
