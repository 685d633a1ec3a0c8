// Writes the configuration table into ../../README.md between the config-table markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceConfigTable } from '../src/describe.ts';

const readme = join(import.meta.dirname, '..', '..', '..', 'README.md');
writeFileSync(readme, replaceConfigTable(readFileSync(readme, 'utf8')));
console.log(`updated ${readme}`);
