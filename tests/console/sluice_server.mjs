// The built `sluice` binary as the node tests run it: `serve` on 127.0.0.1:0 over a data
// directory, its address read from what it prints, stopped with SIGTERM (SIGKILL after
// `waitMs`). It builds nothing: run `cargo build --bin sluice` first (scripts/check.sh does).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
export const SLUICE = process.env.SLUICE_BIN
  ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target'), 'debug', 'sluice');

export function requireSluice() {
  if (!existsSync(SLUICE)) throw new Error(`${SLUICE} is missing: run \`cargo build --bin sluice\` first`);
}

/** Starts `sluice serve` on 127.0.0.1:0 over `dataDir` and reads the address it prints. */
export async function startServer(dataDir, waitMs) {
  const child = spawn(SLUICE, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sluice did not say where it listens:\n${out}${log}`)), waitMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /sluice listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sluice exited (${code}):\n${out}${log}`)); });
  });
  return { child, base, log: () => log };
}

export async function stopServer({ child }, waitMs) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
  await exited;
  clearTimeout(timer);
}
