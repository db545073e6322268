import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { apiSchemaTypes, SCHEMA_FILE } from '../scripts/web-api-schema.ts';

/** The web client's API types are made from the document Plaza builds; a route changed without `npm run web:schema` fails here. */
test('web/src/api/schema.d.ts is what Plaza\'s /openapi.json makes today', async () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  const fresh = await apiSchemaTypes();
  assert.ok(committed === fresh, 'web/src/api/schema.d.ts is stale: run `npm run web:schema` and commit it');
});
