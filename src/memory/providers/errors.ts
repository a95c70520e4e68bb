/**
 * The model provider's failures, each answered with its own status in the reference's named
 * envelope (see `openai.ts` for which provider answer becomes which error).
 */
import { DomainError } from '../../errors.js';

/**
 * A failure talking to the model provider; `status` is the HTTP status the server answers with,
 * in the reference's named envelope `{"detail": "<message> [<Name>]"}` of the subclass's name.
 */
export class ProviderError extends DomainError {
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = 'ProviderError';
    this.status = status;
  }
}

/** No API key is configured for a provider that needs one. */
export class LLMAPIKeyNotSetError extends ProviderError {
  constructor() {
    super('LLM API key is not set.', 422);
    this.name = 'LLMAPIKeyNotSetError';
  }
}

/** The provider refused for lack of credit, quota or budget. */
export class LLMPaymentRequiredError extends ProviderError {
  constructor(message = 'The language model provider refused the request: the quota or budget of the account is exhausted.') {
    super(message, 402);
    this.name = 'LLMPaymentRequiredError';
  }
}

/** The provider refused the API key (HTTP 401 or 403). */
export class LLMAuthenticationError extends ProviderError {
  constructor() {
    super('The language model provider refused the API key.', 502);
    this.name = 'LLMAuthenticationError';
  }
}

/** The provider could not be reached or kept failing (429, 5xx, network, timeout) after retries. */
export class LLMUnavailableError extends ProviderError {
  constructor(message: string) {
    super(message, 503);
    this.name = 'LLMUnavailableError';
  }
}

/** The provider rejected the request (another 4xx) or answered with something unusable. */
export class LLMResponseError extends ProviderError {
  constructor(message: string) {
    super(message, 502);
    this.name = 'LLMResponseError';
  }
}

// ------------------------------------------------------------------------------------------------
// Transport
