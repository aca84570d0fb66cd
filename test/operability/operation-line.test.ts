// The operation line is written from a template, not by pino: it must be the line pino would write for the same
// fields, byte for byte (but the time), whatever the client put in its request id or operation name.
import { describe, expect, it } from 'vitest';
import { createLogger, operationLineWriter, type OperationLine } from '../../src/logger.js';

function recordingDestination() {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text) };
}

/** The same line with its time blanked: two lines written a millisecond apart differ there only. */
const timeless = (line: string) => line.replace(/"time":\d+/, '"time":0');

const base: OperationLine = { requestId: 'b8e1c0f2-5d2a-4c1e-9a43-0d1f7e2b6c55', operation: 'ThreeProjects', type: 'query', durationMs: 12.3, upstreamCalls: 1, errorCodes: [] };

const cases: Array<[string, OperationLine, string]> = [
  ['a plain query', base, 'query ThreeProjects success'],
  ['no request id', { ...base, requestId: undefined }, 'query ThreeProjects success'],
  ['error codes', { ...base, errorCodes: ['UNAUTHENTICATED', 'UPSTREAM_ERROR'] }, 'query ThreeProjects error'],
  ['a subscription', { ...base, type: 'subscription', phase: 'subscribed' }, 'subscription Live success'],
  ['quotes, backslashes and control characters', { ...base, requestId: 'a"b\\c\nd\u0001', operation: 'Q"\\\t' }, 'query Q"\\\t success'],
  ['characters past ASCII', { ...base, operation: 'Prüfsummen…', requestId: 'id-✓-🙂' }, 'query Prüfsummen… success'],
  ['a whole duration, no calls', { ...base, durationMs: 3, upstreamCalls: 0 }, 'query ThreeProjects success'],
];

describe('the operation line', () => {
  it.each(cases)('is the line pino writes: %s', (_name, fields, msg) => {
    const out = recordingDestination();
    const logger = createLogger('info', out);
    operationLineWriter(logger)(fields, msg);
    const { phase, ...rest } = fields;
    logger.info(phase === undefined ? rest : { ...rest, phase }, msg);
    expect(out.writes).toHaveLength(2);
    expect(timeless(out.writes[0])).toBe(timeless(out.writes[1]));
    expect(JSON.parse(out.writes[0])).toMatchObject({ level: 30, service: 'data-management-gateway', operation: fields.operation, msg });
  });

  it("carries a child logger's bindings, as pino does", () => {
    const out = recordingDestination();
    const child = createLogger('info', out).child({ replica: 'r1' });
    operationLineWriter(child)(base, 'query ThreeProjects success');
    child.info(base, 'query ThreeProjects success');
    expect(timeless(out.writes[0])).toBe(timeless(out.writes[1]));
    expect(JSON.parse(out.writes[0])).toMatchObject({ replica: 'r1' });
  });

  it('writes nothing below its level, and follows a level set later', () => {
    const out = recordingDestination();
    const logger = createLogger('warn', out);
    const write = operationLineWriter(logger);
    write(base, 'query ThreeProjects success');
    expect(out.writes).toEqual([]);
    logger.level = 'info';
    write(base, 'query ThreeProjects success');
    expect(out.writes).toHaveLength(1);
  });

  it('keeps a lone surrogate of a client-chosen name as valid JSON', () => {
    const out = recordingDestination();
    operationLineWriter(createLogger('info', out))({ ...base, operation: 'broken\ud800name' }, 'query broken success');
    expect((JSON.parse(out.writes[0]) as { operation: string }).operation).toBe('broken\ud800name');
  });
});
