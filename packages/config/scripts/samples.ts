// Writes config.yml.sample and .env.example at the repository root from the schema.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigYmlSample, renderEnvExample } from '../src/describe.ts';

const root = join(import.meta.dirname, '..', '..', '..');
writeFileSync(join(root, 'config.yml.sample'), renderConfigYmlSample());
writeFileSync(join(root, '.env.example'), renderEnvExample());
console.log(`updated ${join(root, 'config.yml.sample')} and ${join(root, '.env.example')}`);
