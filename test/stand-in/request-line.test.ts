// The stand-in stands behind nginx, as GitLab does: a request line longer than --max-request-line-bytes (8192 by
// default, nginx's large_client_header_buffers) is answered 414 Request-URI Too Large, and logged, before GitLab sees it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startStandalone, type StandaloneStandIn } from '../support/standalone.js';

let byDefault: StandaloneStandIn;
let small: StandaloneStandIn;

beforeAll(async () => {
  [byDefault, small] = await Promise.all([startStandalone(['--records', '5']), startStandalone(['--records', '5', '--max-request-line-bytes', '1024'])]);
});

afterAll(async () => {
  await Promise.all([byDefault?.stop(), small?.stop()]);
});

/**
 * A GET of one project whose request line (`GET <target> HTTP/1.1\r\n`) is exactly `bytes` long. (Not a list: its
 * Link header would repeat the long URL, more than fetch takes.)
 */
async function getWithLine(si: StandaloneStandIn, bytes: number): Promise<{ status: number; text: string; target: string }> {
  const [project] = (await (await fetch(`${si.api}/projects?per_page=1`, { headers: { 'private-token': ADMIN_TOKEN } })).json()) as { record_identifier: number }[];
  const start = new URL(`${si.api}/projects/${project.record_identifier}?filler=`);
  const target = start.pathname + start.search;
  const filler = 'x'.repeat(bytes - `GET ${target} HTTP/1.1\r\n`.length);
  const response = await fetch(`${si.url}${target}${filler}`, { headers: { 'private-token': ADMIN_TOKEN } });
  return { status: response.status, text: await response.text(), target: target + filler };
}

describe('request line limit', () => {
  it('answers a line of exactly 8192 bytes, and 414 from nginx for one byte more (Node alone would not)', async () => {
    await byDefault.clearRequests();
    expect((await getWithLine(byDefault, 8192)).status).toBe(200);
    const over = await getWithLine(byDefault, 8193);
    expect(over.status).toBe(414);
    expect(over.text).toContain('<title>414 Request-URI Too Large</title>');
    // 20 KB: what 800 integer identifiers make; Node's own limit would have said 431.
    expect((await getWithLine(byDefault, 20_000)).status).toBe(414);
    const { requests } = await byDefault.requests();
    const long = requests.filter((r) => r.query.includes('filler'));
    expect(long.map((r) => `GET ${r.path}?${r.query} HTTP/1.1\r\n`.length)).toEqual([8192, 8193, 20_000]);
  });

  it('takes its limit from --max-request-line-bytes', async () => {
    expect((await getWithLine(small, 1024)).status).toBe(200);
    expect((await getWithLine(small, 1025)).status).toBe(414);
  });
});
