import { forgotPassword } from '../api/auth';
import { EmailLinkForm, Page } from '../components';

/** The answer is the same whether or not the account exists: the page never tells which. */
export const RESET_SENT = 'If an account exists for that address, we sent a link to reset its password. Check your e-mail.';

export function ForgotPasswordPage() {
  return (
    <Page title="Forgot your password?">
      <EmailLinkForm
        className="card narrow"
        lead="Enter the e-mail address of your account and we will send you a link to choose a new password."
        send={forgotPassword}
        sent={RESET_SENT}
        submit="Send reset link"
      />
    </Page>
  );
}
