/**
 * The errors of the gateway's pure parts (request translation, model names). Each one is a client
 * mistake or a backend limit, answered with a 400 in the client's own protocol — except a backend
 * that answered nonsense, which is the gateway's 502. The gateway server picks the body shape
 * (`ollamaErrorBody` / `openAIErrorBody`); the code and the field are here for it and for logs.
 */
import { CoordinatorError, type CoordinatorErrorCode } from '../coordinator-error.js';

export type GatewayErrorCode = Extract<
  CoordinatorErrorCode,
  | 'KAGE_ERR_GATEWAY_BAD_REQUEST'
  | 'KAGE_ERR_GATEWAY_UNSUPPORTED'
  | 'KAGE_ERR_GATEWAY_MODEL_NAME'
  | 'KAGE_ERR_GATEWAY_BACKEND_REPLY'
>;

/** HTTP status the gateway answers each code with. */
export const GATEWAY_ERROR_STATUS: Readonly<Record<GatewayErrorCode, number>> = {
  KAGE_ERR_GATEWAY_BAD_REQUEST: 400,
  KAGE_ERR_GATEWAY_UNSUPPORTED: 400,
  KAGE_ERR_GATEWAY_MODEL_NAME: 400,
  KAGE_ERR_GATEWAY_BACKEND_REPLY: 502,
};

export class GatewayError extends CoordinatorError {
  declare readonly code: GatewayErrorCode;
  /** The offending request field as a path (`options.temperature`, `messages[2].images`), if any. */
  readonly field: string | undefined;

  constructor(code: GatewayErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(code, message, {
      cause: options.cause,
      ...(options.field === undefined ? {} : { details: { field: options.field } }),
    });
    this.field = options.field;
  }

  /** The HTTP status to answer with. */
  get status(): number {
    return GATEWAY_ERROR_STATUS[this.code];
  }
}
