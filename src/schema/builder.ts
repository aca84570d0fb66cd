// The Pothos builder and its typing; nothing else lives here.
import SchemaBuilder from '@pothos/core';
import type { GatewayContext } from '../context.js';

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  Scalars: {
    DateTime: { Input: Date; Output: string | Date };
    BigInt: { Input: bigint; Output: bigint | number | string };
  };
}>({});
