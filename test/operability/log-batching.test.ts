// The log's writes: the lines of a few milliseconds go out in one write, in order; a burst past 32 KB goes out at
// once; a line is never held longer than the flush interval. (The shutdown test shows the last lines reach stdout at
// exit.)
import { describe, expect, it } from 'vitest';
import { createLogger, linesBatched } from '../../src/logger.js';

function recordingDestination() {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('log lines written in batches', () => {
  it('writes the lines of a burst together, whole and in order, within a few milliseconds', async () => {
    const out = recordingDestination();
    const logger = createLogger('info', linesBatched(out));
    for (let i = 0; i < 20; i++) logger.info({ i }, `line ${i}`);
    expect(out.writes).toEqual([]);
    await sleep(50);
    expect(out.writes).toHaveLength(1);
    const lines = out.writes[0].split('\n').filter(Boolean).map((l) => JSON.parse(l) as { i: number; msg: string });
    expect(lines.map((l) => l.i)).toEqual([...Array(20).keys()]);
    // A later line starts a batch of its own.
    logger.info('alone');
    await sleep(50);
    expect(out.writes).toHaveLength(2);
    expect(JSON.parse(out.writes[1])).toMatchObject({ msg: 'alone' });
  });

  it('writes at once when a burst passes 32 KB, keeping the order', async () => {
    const out = recordingDestination();
    const logger = createLogger('info', linesBatched(out));
    const filler = 'x'.repeat(1000);
    for (let i = 0; i < 40; i++) logger.info({ i, filler }, 'big');
    // Past 32 KB of text the batch went out in this same turn; the rest waits for the interval.
    expect(out.writes.length).toBeGreaterThanOrEqual(1);
    expect(out.writes[0].length).toBeGreaterThanOrEqual(32 * 1024);
    await sleep(50);
    const order = out.writes.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    expect(order).toEqual([...Array(40).keys()]);
  });
});
