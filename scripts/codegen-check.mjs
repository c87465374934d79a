// pnpm codegen:check — fails when the generated protobuf code differs from what spec/proto/ generates.
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [resolve(root, 'packages/wire/scripts/codegen.mjs'), '--check'], { stdio: 'inherit' });
