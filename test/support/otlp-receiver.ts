// A small OTLP/HTTP trace receiver for tests: takes JSON and protobuf exports on /v1/traces and keeps their spans,
// decoded into one shape, and the raw bodies (to search them for what must never be exported).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's kinds: 1 internal, 2 server, 3 client. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  events: { name: string; attributes: Record<string, AttributeValue> }[];
  /** OTLP's codes: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> (the OTLP base endpoint; spans go to /v1/traces). */
  url: string;
  spans(): ReceivedSpan[];
  /** Every export's body as received (protobuf as latin1 text, which keeps its UTF-8 strings searchable). */
  rawBodies(): string[];
  /** The content types exports came with. */
  contentTypes(): string[];
  close(): Promise<void>;
}

// --- OTLP JSON (hex ids, as OpenTelemetry JS writes them) ---

interface JsonValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: JsonValue[] };
}

function jsonValue(value: JsonValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonValue);
  return null;
}

function jsonAttributes(list: { key: string; value?: JsonValue }[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

type JsonSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: { key: string; value?: JsonValue }[];
  events?: { name: string; attributes?: { key: string; value?: JsonValue }[] }[];
  status?: { code?: number; message?: string };
};

function fromJson(body: string): ReceivedSpan[] {
  const request = JSON.parse(body) as { resourceSpans?: { resource?: { attributes?: { key: string; value?: JsonValue }[] }; scopeSpans?: { spans?: JsonSpan[] }[] }[] };
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: jsonAttributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: jsonAttributes(e.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
        });
      }
    }
  }
  return spans;
}

// --- OTLP protobuf, read with a minimal wire-format reader (only what ExportTraceServiceRequest uses) ---

type Field = { number: number; wire: number; varint: bigint; bytes: Buffer };

/** The fields of one message, in order; repeated fields come once per value. */
function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[at++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < buffer.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ number, wire, varint: varint(), bytes: Buffer.alloc(0) });
    else if (wire === 1) {
      out.push({ number, wire, varint: buffer.readBigUInt64LE(at), bytes: buffer.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push({ number, wire, varint: 0n, bytes: buffer.subarray(at, at + length) });
      at += length;
    } else if (wire === 5) {
      out.push({ number, wire, varint: BigInt(buffer.readUInt32LE(at)), bytes: buffer.subarray(at, at + 4) });
      at += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

const all = (list: Field[], number: number) => list.filter((f) => f.number === number);
const one = (list: Field[], number: number) => list.find((f) => f.number === number);
const text = (field: Field | undefined) => field?.bytes.toString('utf8') ?? '';

/** An int64 varint as a signed number. */
const signed = (value: bigint) => Number(BigInt.asIntN(64, value));

function protoValue(buffer: Buffer): AttributeValue {
  const f = fields(buffer)[0];
  if (!f) return null;
  switch (f.number) {
    case 1:
      return f.bytes.toString('utf8');
    case 2:
      return f.varint !== 0n;
    case 3:
      return signed(f.varint);
    case 4:
      return f.bytes.readDoubleLE(0);
    case 5:
      return all(fields(f.bytes), 1).map((v) => protoValue(v.bytes));
    default:
      return null;
  }
}

function protoAttributes(list: Field[]): Record<string, AttributeValue> {
  return Object.fromEntries(
    list.map((kv) => {
      const parts = fields(kv.bytes);
      const value = one(parts, 2);
      return [text(one(parts, 1)), value ? protoValue(value.bytes) : null];
    }),
  );
}

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of all(fields(body), 1)) {
    const rsFields = fields(rs.bytes);
    const resourceField = one(rsFields, 1);
    const resource = resourceField ? protoAttributes(all(fields(resourceField.bytes), 1)) : {};
    for (const ss of all(rsFields, 2)) {
      for (const spanField of all(fields(ss.bytes), 2)) {
        const s = fields(spanField.bytes);
        const status = one(s, 15);
        const statusFields = status ? fields(status.bytes) : [];
        spans.push({
          traceId: one(s, 1)?.bytes.toString('hex') ?? '',
          spanId: one(s, 2)?.bytes.toString('hex') ?? '',
          parentSpanId: one(s, 4)?.bytes.toString('hex') ?? '',
          name: text(one(s, 5)),
          kind: Number(one(s, 6)?.varint ?? 0n),
          startNs: one(s, 7)?.varint ?? 0n,
          endNs: one(s, 8)?.varint ?? 0n,
          attributes: protoAttributes(all(s, 9)),
          events: all(s, 11).map((e) => {
            const ef = fields(e.bytes);
            return { name: text(one(ef, 2)), attributes: protoAttributes(all(ef, 3)) };
          }),
          status: { code: Number(one(statusFields, 3)?.varint ?? 0n), message: text(one(statusFields, 2)) },
          resource,
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const raw: string[] = [];
  const types: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(req.headers['content-type'] ?? '');
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      types.push(type);
      try {
        if (type.startsWith('application/json')) {
          raw.push(body.toString('utf8'));
          spans.push(...fromJson(body.toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else if (type.startsWith('application/x-protobuf')) {
          raw.push(body.toString('latin1'));
          spans.push(...fromProtobuf(body));
          // An empty ExportTraceServiceResponse.
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } else {
          res.writeHead(415).end();
        }
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    rawBodies: () => [...raw],
    contentTypes: () => [...types],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
