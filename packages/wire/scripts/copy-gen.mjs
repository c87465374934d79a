// tsc does not copy the generated protobufjs module into dist; the build does (TOOLCHAIN.md).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(pkg, 'dist/src/gen'), { recursive: true });
for (const f of ['parley.js', 'parley.d.ts']) copyFileSync(join(pkg, 'src/gen', f), join(pkg, 'dist/src/gen', f));
