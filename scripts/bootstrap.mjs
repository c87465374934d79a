// Makes `npm run demo` and `npm test` work on a fresh machine with only Node and npm: installs the
// workspace with the pinned pnpm (through npx, from the npm registry) when it is not installed yet,
// and generates the protobuf code if it is missing. Quiet when there is nothing to do.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const marker = join(root, 'node_modules/.modules.yaml');
if (!existsSync(marker)) {
  const haveGlobal = (() => {
    try {
      return (
        execSync('pnpm --version', { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim() === packageManager.split('@')[1]
      );
    } catch {
      return false;
    }
  })();
  const pnpm = haveGlobal ? 'pnpm' : `npx --yes ${packageManager}`;
  console.log(`[bootstrap] installing the workspace with ${pnpm} (first run only)…`);
  execSync(`${pnpm} install --frozen-lockfile`, { cwd: root, stdio: 'inherit' });
}
