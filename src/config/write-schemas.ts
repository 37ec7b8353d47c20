import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { schemaFiles } from './schema.js';

/** `npm run schema`: writes schemas/*.schema.json (shipped, and referenced by the example YAML files) from schema.ts. */
const dir = resolve(process.argv[2] ?? 'schemas');
await mkdir(dir, { recursive: true });
for (const [name, text] of Object.entries(schemaFiles())) {
  await writeFile(join(dir, name), text);
  process.stdout.write(`wrote ${join(dir, name)}\n`);
}
