import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifySchemaValidationError,
} from 'fastify';
import { PATTERN_DESCRIPTIONS } from './schemas.js';

// One error shape for every 4xx/5xx the API sends: `{ error: { code, message } }`, codes stable
// and lower-case (STYLE §5), messages naming the parameter at fault.

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export function apiError(code: string, message: string): ApiErrorBody {
  return { error: { code, message } };
}

/**
 * Sends the error and returns nothing, so a handler can `return sendError(...)`: a handler that
 * returned the reply itself would make Fastify try to send it a second time.
 */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
): void {
  reply.code(status).type('application/json; charset=utf-8').send(apiError(code, message));
}

const CODE_FOR_STATUS: Record<number, string> = {
  400: 'bad-request',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
};

/** Installs the JSON 404 and the error handler that turns schema failures into 400s. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, 404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation && error.validation.length > 0) {
      return sendError(reply, 400, 'bad-request', describeValidation(error));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(reply, status, CODE_FOR_STATUS[status] ?? 'bad-request', error.message);
    }
    request.log.error({ err: error }, 'request failed');
    // Internals stay in the log; the client learns only that it was not its fault.
    return sendError(reply, 500, 'internal', 'internal error; see the service log');
  });
}

/** "querystring parameter 'limit' must be <= 1000", from Fastify's Ajv result. */
function describeValidation(error: FastifyError): string {
  const issue = error.validation?.[0];
  const where = error.validationContext === 'params' ? 'path' : error.validationContext;
  const missing = issue?.params?.missingProperty;
  const name =
    typeof missing === 'string' ? missing : (issue?.instancePath ?? '').replace(/^\//, '');
  if (!issue || name === '') return error.message;
  return `${where} parameter '${name}' ${explain(issue)}`;
}

function explain(issue: FastifySchemaValidationError): string {
  const { keyword, params } = issue;
  if (keyword === 'pattern' && typeof params.pattern === 'string') {
    return PATTERN_DESCRIPTIONS[params.pattern] ?? issue.message ?? 'is invalid';
  }
  if (keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `must be one of: ${params.allowedValues.join(', ')}`;
  }
  return issue.message ?? 'is invalid';
}
