import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

// Fastify logs every request at info; for a service polled by dashboards and load balancers
// that drowns the presence logs, so routine request lines go to debug (STYLE §10). Failures
// still reach the log at error level.
export class DebugRequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      reply.log.error(
        { res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      );
    } else {
      request.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}
