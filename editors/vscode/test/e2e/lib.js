#!/usr/bin/env node
// @ts-check
/*
 * What the VS Code end-to-end scenarios (run.js, defaults.js) share: processes in their own
 * process groups, polling, HTTP to the emulator, and `launch`, which starts the emulator, packages
 * and installs the extension into code-server 4.100.3 with a temp HOME / user-data-dir, and opens
 * the workbench in Debian chromium through playwright-core. Needs `test/e2e/setup.sh` first.
 *
 * Environment: DFL_PYTHON (python with deepseek_fim_lsp installed; default <repo>/.venv/bin/python
 * or python3), DFL_SERVER (server executable; default next to DFL_PYTHON), DFL_E2E_KEEP=1 keeps
 * the temp dir.
 */
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const EXT_DIR = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(EXT_DIR, '..', '..');
const E2E_DIR = path.join(EXT_DIR, '.e2e');
const CODE_SERVER = path.join(E2E_DIR, 'node_modules', '.bin', 'code-server');
const CHROMIUM = '/usr/bin/chromium';
const API_KEY = 'sk-test-key';

/** Workbench settings that keep first-run noise (welcome page, tips, updates) out of the way. */
const QUIET_WORKBENCH = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'chat.commandCenter.enabled': false,
};
/** The status bar item (its accessible label starts with this). */
const STATUS_SELECTOR = '[aria-label^="DeepSeek FIM"]';
const started = Date.now();
/** @type {Array<() => Promise<void> | void>} */
const cleanups = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfl-vscode-e2e-'));

function log(msg) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`[e2e ${t}s] ${msg}\n`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
async function waitFor(what, fn, timeoutMs, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

function findPython() {
  if (process.env.DFL_PYTHON) {
    return process.env.DFL_PYTHON;
  }
  const venv = path.join(REPO, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

function findServer(python) {
  if (process.env.DFL_SERVER) {
    return process.env.DFL_SERVER;
  }
  // Next to the interpreter, without resolving symlinks (a venv's python links elsewhere).
  const candidate = path.join(path.dirname(python), 'deepseek-fim-lsp');
  if (fs.existsSync(candidate)) {
    return candidate;
  }
  const found = execFileSync('sh', ['-c', 'command -v deepseek-fim-lsp || true']).toString().trim();
  if (!found) {
    throw new Error('deepseek-fim-lsp not found: set DFL_SERVER');
  }
  return found;
}

/** Starts a process in its own process group (setsid), logging to a file; killed at cleanup. */
function startGroup(name, command, args, options) {
  const logFile = path.join(tmp, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.on('error', (error) => log(`${name}: ${error.message}`));
  cleanups.push(() => killGroup(child, name));
  return { child, logFile };
}

async function killGroup(child, name) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    log(`${name} did not stop on SIGTERM; SIGKILL`);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A small HTTP client for 127.0.0.1 with a timeout. */
function httpRequest(url, method = 'GET', body = undefined, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method,
        timeout: timeoutMs,
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (data) {
      req.write(data);
    }
    req.end();
  });
}

function run(command, args, options, timeoutMs) {
  return execFileSync(command, args, { ...options, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function findFiles(dir, predicate, out = []) {
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      findFiles(full, predicate, out);
    } else if (predicate(full)) {
      out.push(full);
    }
  }
  return out;
}
/**
 * Starts a scenario's world and opens the workbench on its workspace:
 * - `rules`: emulator rules (POST /_emulator/rules);
 * - `settings`: user settings on top of QUIET_WORKBENCH + the server path + the emulator's URL;
 * - `files`: workspace files by name;
 * - `serverPath(server)`: what `deepseekFim.serverPath` points at (default: the server itself).
 * The API key is in code-server's environment (DEEPSEEK_API_KEY), not in SecretStorage.
 * @param {{ rules: object[], settings: Record<string, unknown>, files: Record<string, string>,
 *           serverPath?: (server: string) => string }} options
 */
async function launch({ rules, settings, files, serverPath }) {
  if (!fs.existsSync(CODE_SERVER)) {
    throw new Error(`code-server is not installed: run ${path.join(__dirname, 'setup.sh')}`);
  }
  // playwright-core lives in .e2e, installed by setup.sh.
  const { chromium } = require(path.join(E2E_DIR, 'node_modules', 'playwright-core'));
  const python = findPython();
  const server = findServer(python);
  log(`python ${python}, server ${server}, tmp ${tmp}`);

  /** @type {Record<string, string>} */
  const dirs = {};
  for (const name of ['home', 'userdata', 'extensions', 'workspace', 'chrome', 'shots']) {
    dirs[name] = path.join(tmp, name);
    fs.mkdirSync(dirs[name], { recursive: true });
  }
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    HOME: dirs.home,
    XDG_DATA_HOME: path.join(dirs.home, '.local', 'share'),
    XDG_CONFIG_HOME: path.join(dirs.home, '.config'),
    XDG_CACHE_HOME: path.join(dirs.home, '.cache'),
  };
  delete env.DEEPSEEK_API_KEY;
  delete env.DEEPSEEK_BASE_URL;

  // The emulator, with the scenario's scripted answers.
  const portFile = path.join(tmp, 'emulator.port');
  const emulator = startGroup(
    'emulator',
    python,
    ['-m', 'deepseek_fim_lsp', 'emulate', '--port', '0', '--port-file', portFile, '--key', API_KEY],
    { env, cwd: tmp },
  );
  const emulatorPort = await waitFor(
    'the emulator port file',
    () => {
      if (emulator.child.exitCode !== null) {
        throw new Error(`emulator exited: ${readIfExists(emulator.logFile)}`);
      }
      const text = readIfExists(portFile).trim();
      return /^\d+$/.test(text) ? Number(text) : 0;
    },
    20_000,
  );
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  const ruled = await httpRequest(`${emulatorUrl}/_emulator/rules`, 'POST', { rules });
  if (ruled.status !== 200) {
    throw new Error(`emulator rejected the rules: ${ruled.status} ${ruled.text}`);
  }
  log(`emulator on ${emulatorUrl}`);
  cleanups.unshift(async () => {
    if (process.exitCode) {
      const res = await httpRequest(`${emulatorUrl}/_emulator/log`).catch(() => undefined);
      if (res) {
        process.stdout.write(`--- emulator request log ---\n${res.text.slice(0, 4000)}\n`);
      }
    }
  });

  // Package the extension as it is now (`vsce package` alone: vscode:prepublish compiles it),
  // then install the .vsix.
  const vsix = path.join(tmp, 'deepseek-fim-lsp.vsix');
  run(
    process.execPath,
    [path.join(EXT_DIR, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--allow-missing-repository', '--out', vsix],
    { cwd: EXT_DIR, env },
    180_000,
  );
  log('packaged the extension');
  const installed = run(
    CODE_SERVER,
    ['--install-extension', vsix, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs.userdata],
    { env, cwd: tmp },
    90_000,
  );
  if (!/successfully installed/i.test(installed)) {
    throw new Error(`installing the .vsix failed: ${installed}`);
  }
  log('installed the .vsix');

  const userSettings = {
    'deepseekFim.serverPath': serverPath ? serverPath(server) : server,
    'deepseekFim.baseUrl': emulatorUrl,
    ...QUIET_WORKBENCH,
    ...settings,
  };
  fs.mkdirSync(path.join(dirs.userdata, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userdata, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dirs.workspace, name), text);
  }

  // code-server, with the key in the server's environment.
  const port = await freePort();
  const config = path.join(tmp, 'code-server.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const codeServer = startGroup(
    'code-server',
    CODE_SERVER,
    [
      '--config', config,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--user-data-dir', dirs.userdata,
      '--extensions-dir', dirs.extensions,
      dirs.workspace,
    ],
    { env: { ...env, DEEPSEEK_API_KEY: API_KEY }, cwd: dirs.workspace },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'code-server /healthz',
    async () => {
      if (codeServer.child.exitCode !== null) {
        throw new Error(`code-server exited: ${readIfExists(codeServer.logFile).slice(-2000)}`);
      }
      return (await httpRequest(`${base}/healthz`, 'GET', undefined, 2000)).status === 200;
    },
    60_000,
    300,
  );
  log(`code-server on ${base}`);
  cleanups.unshift(() => {
    if (process.exitCode) {
      const logs = findFiles(dirs.userdata, (f) => /DeepSeek FIM\.log$/.test(f));
      for (const f of logs) {
        process.stdout.write(`--- ${f} ---\n${readIfExists(f).slice(-6000)}\n`);
      }
      process.stdout.write(`--- code-server log (tail) ---\n${readIfExists(codeServer.logFile).slice(-3000)}\n`);
    }
  });

  // The browser.
  const context = await chromium.launchPersistentContext(dirs.chrome, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: 60_000,
  });
  cleanups.unshift(async () => {
    await Promise.race([context.close(), sleep(10_000)]);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  cleanups.unshift(async () => {
    if (process.exitCode) {
      const shot = path.join(failureDir, 'failure.png');
      await Promise.race([page.screenshot({ path: shot }).catch(() => undefined), sleep(10_000)]);
      process.stdout.write(`screenshot: ${shot}\n`);
    }
  });

  await page.goto(`${base}/?folder=${encodeURIComponent(dirs.workspace)}`, { timeout: 60_000 });
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  log('workbench loaded');
  return { page, emulatorUrl, dirs, server, python };
}

/** The status bar item's accessible labels ("DeepSeek FIM <state>: <message>"). */
async function statusLabels(page) {
  return page.$$eval(STATUS_SELECTOR, (els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
}

/** Waits for the server's own ready status (not the client's "Language server running"). */
async function waitForReady(page, timeoutMs = 60_000) {
  return waitFor(
    'the DeepSeek status bar item in the ready state',
    async () => (await statusLabels(page)).find((l) => l.startsWith('DeepSeek FIM ready') && !l.includes('Language server running')),
    timeoutMs,
    300,
  );
}

/** Opens a workspace file through Quick Open, waits for the editor's focus, goes to its end. */
async function openFile(page, name) {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type(name, { delay: 20 });
  await waitFor(
    `${name} in Quick Open`,
    async () => (await page.$$('.quick-input-widget .monaco-list-row')).length > 0,
    15_000,
  );
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { state: 'visible' });
  await waitFor(
    'the editor to have focus',
    () => page.evaluate(() => !!document.activeElement?.closest('.monaco-editor')),
    15_000,
  );
  await page.keyboard.press('Control+End');
  log(`opened ${name}`);
}

/** The emulator's request log: every request, or only completions (FIM and chat). */
async function emulatorLog(emulatorUrl) {
  const list = JSON.parse((await httpRequest(`${emulatorUrl}/_emulator/log`)).text);
  return Array.isArray(list) ? list : [];
}

async function emulatorRequests(emulatorUrl) {
  return (await emulatorLog(emulatorUrl)).filter((r) => String(r.path).includes('/completions'));
}

/** FIM requests only (`/beta/completions`), the ones a completion costs. */
async function fimRequests(emulatorUrl) {
  return (await emulatorLog(emulatorUrl)).filter((r) => String(r.path).endsWith('/beta/completions'));
}

async function postJson(url, body) {
  const res = await httpRequest(url, 'POST', body);
  if (res.status !== 200) {
    throw new Error(`POST ${url}: ${res.status} ${res.text}`);
  }
}

/** The ghost text shown now (spans joined, U+00A0 as spaces). */
async function ghostText(page) {
  const text = await page.$$eval('.monaco-editor .ghost-text-decoration', (els) =>
    els.map((e) => e.textContent ?? '').join(''),
  );
  return text.replace(/\u00a0/g, ' ');
}

async function waitForGhost(page, suggestion, timeoutMs = 30_000) {
  return waitFor(
    `ghost text ${JSON.stringify(suggestion)}`,
    async () => {
      const text = await ghostText(page);
      return text === suggestion ? text : undefined;
    },
    timeoutMs,
    100,
  );
}

const failureDir = path.join(os.tmpdir(), `dfl-vscode-e2e-failure-${process.pid}`);

async function cleanup() {
  for (const fn of cleanups.splice(0)) {
    try {
      const t0 = Date.now();
      await fn();
      if (Date.now() - t0 > 500) {
        log(`cleanup step took ${Date.now() - t0} ms`);
      }
    } catch (error) {
      log(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (process.env.DFL_E2E_KEEP === '1') {
    log(`kept ${tmp}`);
  } else {
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Runs a scenario within `budgetMs`, prints PASSED or FAILED, stops everything it started and
 * exits (0 = passed).
 */
function runScenario(main, budgetMs) {
  const budget = setTimeout(async () => {
    log(`FAILED: the whole test exceeded ${budgetMs} ms`);
    process.exitCode = 1;
    fs.mkdirSync(failureDir, { recursive: true });
    await Promise.race([cleanup(), sleep(30_000)]);
    process.exit(1);
  }, budgetMs);

  main()
    .then(() => {
      log('PASSED');
    })
    .catch((error) => {
      process.exitCode = 1;
      fs.mkdirSync(failureDir, { recursive: true });
      log(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    })
    .finally(async () => {
      await cleanup();
      clearTimeout(budget);
      log('cleaned up');
      if (!process.exitCode && fs.existsSync(failureDir)) {
        fs.rmSync(failureDir, { recursive: true, force: true });
      }
      // Everything we started is stopped; don't wait for idle keep-alive sockets to time out.
      process.exit(process.exitCode ?? 0);
    });
}

module.exports = {
  API_KEY,
  STATUS_SELECTOR,
  emulatorLog,
  emulatorRequests,
  fimRequests,
  ghostText,
  httpRequest,
  launch,
  log,
  openFile,
  postJson,
  readIfExists,
  runScenario,
  sleep,
  statusLabels,
  tmp,
  waitFor,
  waitForGhost,
  waitForReady,
};
