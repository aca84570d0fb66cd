// Log lines of the calls to GitLab: a failed attempt at warn, with what an operator needs to see an outage coming;
// anything else at debug. One line per attempt, and attempts per call are bounded (UPSTREAM_RETRIES).
import type { UpstreamAttempt } from './gitlab/client.js';
import type { Logger } from './logger.js';

/**
 * No answer, 429, 5xx, or an answer the gateway could not read. A 4xx other than 429 is GitLab's verdict on the
 * client's request (a refused token, an unknown record): the operation's line reports its code; warn would let any
 * client fill the log.
 */
export function isUpstreamFailure(e: UpstreamAttempt): boolean {
  // A call cut off because its client left is nobody's failure.
  return e.errorCode !== null && !e.abandoned && !(e.status >= 400 && e.status < 500 && e.status !== 429);
}

export function logUpstreamAttempt(logger: Logger, e: UpstreamAttempt): void {
  const failed = isUpstreamFailure(e);
  const level = failed ? 'warn' : 'debug';
  if (!logger.isLevelEnabled(level)) return;
  const fields = {
    requestId: e.requestId,
    upstreamStatus: e.status,
    method: e.method,
    route: e.route,
    model: e.model,
    attempt: e.attempt,
    retrying: e.retrying,
    errorCode: e.errorCode,
    durationMs: Math.round(e.durationMs * 10) / 10,
  };
  const answer = e.status === 0 ? 'no answer' : String(e.status);
  const outcome = failed ? `failed: ${answer} (${e.errorCode})` : e.abandoned ? 'cut off: the client left' : answer;
  logger[level](fields, `upstream ${e.method} ${e.route} ${e.model} ${outcome}, attempt ${e.attempt}${e.retrying ? ', retrying' : ''}`);
}
