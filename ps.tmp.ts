import { printSchema } from 'graphql';
import { schema } from './src/modules.js';
console.log(printSchema(schema()));
