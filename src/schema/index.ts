// Imports every part of the schema, then builds it.
import { builder } from './builder.js';
import './scalars.js';
import './model-record.js';
import './recalculate.js';
import './catalogue.js';
import './live.js';
import './summary.js';

export const schema = builder.toSchema({ sortSchema: false });
