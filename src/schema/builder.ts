// The Pothos builder and its typing; nothing else lives here.
import SchemaBuilder from '@pothos/core';
import type { GatewayContext } from '../context.js';

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  // Fields are non-null unless they say otherwise, as the contract reads.
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: string | Date };
    BigInt: { Input: bigint; Output: bigint | number | string };
  };
}>({
  defaultFieldNullability: false,
});
