#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  AuthService,
  LocalBus,
  isServerAssignedEmail,
  MemoryCounterStore,
  createJwt,
  createMailer,
  hashPassword,
  passwordPolicyViolation,
  resolveSecrets,
} from '../auth/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../logger.js';
import { openStore, startEngram, VERSION } from '../server.js';
import { normaliseEmail } from '../auth/service.js';
import { linkExternalTenant } from '../access/index.js';
import { isUuid } from '../ids.js';

const USAGE = `engram ${VERSION}: shared long-term memory for AI agents and apps

Usage:
  engram serve                       start the HTTP server (HTTP_API_HOST, HTTP_API_PORT)
  engram migrate                     apply database migrations and exit
  engram token --user-id UUID [--tenant-id ID] [--roles a,b] [--lifetime SECONDS]
                                     mint an external token (the reference's get_token)
  engram user create --email E [--password P] [--superuser]
                                     create an account (a strong password is generated if omitted)
  engram tenant link --tenant-id UUID --external-id ID
                                     let external tokens naming ID act in that existing tenant (D2)
  engram help                        this text

Configuration comes from the environment and ./.env (the environment wins).`;

function fail(message: string, code = 2): never {
  process.stderr.write(`engram: ${message}\n`);
  process.exit(code);
}

async function serve() {
  const engram = await startEngram();
  let stopping = false;
  const stop = async (signal: string) => {
    // A second signal while shutting down ends the process at once.
    if (stopping) {
      engram.log.warn(`received ${signal} again, exiting without waiting for the shutdown`);
      process.exit(1);
    }
    stopping = true;
    engram.log.info(`received ${signal}, shutting down`);
    await engram.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function migrate() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const store = await openStore(config, log);
  await store.close();
  process.stdout.write('migrations are up to date\n');
}

async function token(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      'user-id': { type: 'string' },
      'tenant-id': { type: 'string' },
      roles: { type: 'string' },
      lifetime: { type: 'string' },
    },
  });
  if (!values['user-id']) fail('token: --user-id is required');
  const lifetime = values.lifetime === undefined ? 3600 : Number(values.lifetime);
  if (!Number.isInteger(lifetime) || lifetime <= 0) fail('token: --lifetime must be a positive integer');
  const config = loadConfig();
  const secrets = resolveSecrets(config);
  const roles = (values.roles ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  try {
    const jwt = await createJwt(values['user-id'], values['tenant-id'] ?? null, roles, { secret: secrets.jwt, lifetimeSeconds: lifetime });
    process.stdout.write(`${jwt}\n`);
  } catch (error) {
    fail(`token: ${(error as Error).message}`);
  }
}

async function userCreate(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, password: { type: 'string' }, superuser: { type: 'boolean', default: false } },
  });
  if (!values.email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(values.email)) fail('user create: --email with a valid address is required');
  const email = normaliseEmail(values.email);
  if (isServerAssignedEmail(email)) fail('user create: addresses in @cognee.agent and @external.invalid are assigned by the server (agents, external users)');
  const generated = values.password === undefined;
  const password = values.password ?? randomBytes(18).toString('base64url');
  const config = loadConfig();
  const reason = passwordPolicyViolation(password, { minLength: config.auth.passwordMinLength, email });
  if (reason) fail(`user create: ${reason}`);
  const log = createLogger('warn');
  const store = await openStore(config, log);
  try {
    const auth = new AuthService({
      config,
      store,
      secrets: resolveSecrets(config),
      bus: new LocalBus(),
      counters: new MemoryCounterStore(),
      mailer: createMailer(undefined, log),
      log,
    });
    if (await auth.users.findByEmail(email)) fail(`user create: a user with e-mail ${email} already exists`);
    const user = await auth.users.create({
      email,
      hashedPassword: await hashPassword(password),
      isSuperuser: values.superuser,
      isVerified: true,
    });
    process.stdout.write(`created ${values.superuser ? 'superuser' : 'user'} ${user.email} (${user.id})\n`);
    if (generated) process.stdout.write(`password: ${password}\n(shown once; store it in a password manager)\n`);
  } finally {
    await store.close();
  }
}

async function tenantLink(args: string[]) {
  const { values } = parseArgs({ args, options: { 'tenant-id': { type: 'string' }, 'external-id': { type: 'string' } } });
  const tenantId = values['tenant-id']?.toLowerCase();
  const ref = values['external-id'];
  if (!tenantId || !isUuid(tenantId)) fail('tenant link: --tenant-id with a tenant UUID is required');
  if (!ref || ref.length > 255) fail('tenant link: --external-id (at most 255 characters) is required');
  const config = loadConfig();
  const store = await openStore(config, createLogger('warn'));
  try {
    await linkExternalTenant(store.db, tenantId, ref);
    process.stdout.write(`external tokens naming ${ref} now act in tenant ${tenantId}\n`);
  } catch (error) {
    fail(`tenant link: ${(error as Error).message}`, 1);
  } finally {
    await store.close();
  }
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'migrate':
      return migrate();
    case 'token':
      return token(rest);
    case 'user':
      if (rest[0] === 'create') return userCreate(rest.slice(1));
      return fail(`unknown user subcommand ${rest[0] ?? ''}\n\n${USAGE}`);
    case 'tenant':
      if (rest[0] === 'link') return tenantLink(rest.slice(1));
      return fail(`unknown tenant subcommand ${rest[0] ?? ''}\n\n${USAGE}`);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return;
    default:
      return fail(`unknown command ${command}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 78);
  if ((error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') fail((error as Error).message);
  process.stderr.write(`engram: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
