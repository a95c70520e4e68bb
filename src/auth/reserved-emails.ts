/**
 * E-mail domains the server assigns accounts in, which nobody may register or take by an e-mail
 * change (D25): agents are `<slug>+<creator id>@cognee.agent` (the reference's form) and users
 * provisioned from external tokens `<user id>@external.invalid`. Were such an address registered
 * first, creating that agent or provisioning that user would fail on the taken e-mail.
 */
export const AGENT_DOMAIN = 'cognee.agent';
export const EXTERNAL_DOMAIN = 'external.invalid';

const RESERVED_DOMAINS = [AGENT_DOMAIN, EXTERNAL_DOMAIN];

/** True for an address in a server-assigned domain or one of its subdomains, in any case. */
export function isServerAssignedEmail(email: string): boolean {
  const domain = email
    .slice(email.lastIndexOf('@') + 1)
    .trim()
    .toLowerCase()
    .replace(/\.+$/, '');
  return RESERVED_DOMAINS.some((reserved) => domain === reserved || domain.endsWith(`.${reserved}`));
}
