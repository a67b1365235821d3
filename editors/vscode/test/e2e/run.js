#!/usr/bin/env node
// @ts-check
/*
 * End-to-end test of the packaged extension in a real VS Code (code-server 4.100.3 driven by
 * Debian chromium through playwright-core), against the real deepseek-fim-lsp server and the
 * project's DeepSeek API emulator. Needs `test/e2e/setup.sh` first.
 *
 * Flow: emulator with scripted answers → package + install the .vsix → code-server with a temp
 * HOME / user-data-dir whose settings point the extension at the venv's server and at the emulator
 * (key in the server's environment) → then, as a user would:
 *   1. the status bar item reaches the server's ready state;
 *   2. typing shows exactly the scripted suggestion as ghost text; Tab + Ctrl+S put exactly the
 *      typed text + suggestion on disk; the emulator saw the environment's key;
 *   3. "Set API Key" (password box) → the stored key is what the server sends next (the emulator
 *      then accepts only it), and it is not in settings.json;
 *   4. status bar menu → toggle: item shows disabled, `deepseekFim.enabled` follows;
 *   5. status bar menu → statistics dialog with the server's numbers;
 *   6. "Rewrite Selection…" and the server's "Rewrite…" code action (instruction asked by the
 *      extension) both apply the model's rewrite;
 *   7. "Explain Selection" shows the server's saved explanation, once;
 *   8. a serverPath that does not exist: restart, helpful notification, stopped status.
 *
 * Environment: DFL_PYTHON (python with deepseek_fim_lsp installed; default <repo>/.venv/bin/python
 * or python3), DFL_SERVER (server executable; default next to DFL_PYTHON), DFL_E2E_KEEP=1 keeps
 * the temp dir. Exit code 0 = passed.
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
const TOTAL_BUDGET_MS = 240_000;
const API_KEY = 'sk-test-key';

// What the test types and what the scripted model answers. Spaces matter: VS Code renders them
// as U+00A0 in the ghost text.
const INITIAL = '# e2e demo\n';
const TYPED = 'value = alpha';
const SUGGESTION = ' + beta * 2';
const TYPED_2 = 'other = gamma';
const SUGGESTION_2 = ' - delta / 3';
const STORED_KEY = 'sk-test-stored-7f3a';
const FENCE = '\n\x60\x60\x60\n';
const INSTRUCTION_1 = 'multiply instead';
const REWRITE_1 = 'value = alpha * beta';
const INSTRUCTION_2 = 'halve it';
const REWRITE_2 = 'other = gamma / 2';
const EXPLANATION = 'EXPLAINED: `value` is the product of `alpha` and `beta`.';

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

async function main() {
  if (!fs.existsSync(CODE_SERVER)) {
    throw new Error(`code-server is not installed: run ${path.join(__dirname, 'setup.sh')}`);
  }
  // playwright-core lives in .e2e, installed by setup.sh.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require(path.join(E2E_DIR, 'node_modules', 'playwright-core'));
  const python = findPython();
  const server = findServer(python);
  log(`python ${python}, server ${server}, tmp ${tmp}`);

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

  // 1. The emulator, with a scripted answer for what we will type.
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
  const rules = await httpRequest(`${emulatorUrl}/_emulator/rules`, 'POST', {
    rules: [
      { reply: { text: SUGGESTION }, prompt_endswith: TYPED },
      { reply: { text: SUGGESTION_2 }, prompt_endswith: TYPED_2 },
      // Chat rewrites: the server opens a code block for the model, so the reply is code + fence.
      { reply: { text: REWRITE_1 + FENCE }, prompt_contains: INSTRUCTION_1, endpoint: 'chat' },
      { reply: { text: REWRITE_2 + FENCE }, prompt_contains: INSTRUCTION_2, endpoint: 'chat' },
      { reply: { text: EXPLANATION }, endpoint: 'chat' },
    ],
  });
  if (rules.status !== 200) {
    throw new Error(`emulator rejected the rules: ${rules.status} ${rules.text}`);
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

  // 2. Build and package the extension as it is now, then install the .vsix.
  const vsix = path.join(tmp, 'deepseek-fim-lsp.vsix');
  run(process.execPath, [path.join(EXT_DIR, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', EXT_DIR], { cwd: EXT_DIR }, 120_000);
  run(process.execPath, [path.join(EXT_DIR, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--out', vsix], { cwd: EXT_DIR, env }, 120_000);
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

  // 3. User settings: server from the venv, API at the emulator; quiet workbench; no word-based
  //    suggest widget competing with the ghost text for Tab.
  const settings = {
    'deepseekFim.serverPath': server,
    'deepseekFim.baseUrl': emulatorUrl,
    'deepseekFim.debounceMs': 50,
    'deepseekFim.logLevel': 'debug',
    'editor.inlineSuggest.enabled': true,
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.suggestOnTriggerCharacters': false,
    'editor.wordBasedSuggestions': 'off',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'chat.commandCenter.enabled': false,
    'files.insertFinalNewline': false,
    'files.trimTrailingWhitespace': false,
  };
  fs.mkdirSync(path.join(dirs.userdata, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userdata, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  const file = path.join(dirs.workspace, 'main.py');
  fs.writeFileSync(file, INITIAL);

  // 4. code-server, with the key in the server's environment (no SecretStorage key).
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

  // 5. The browser.
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

  // 6. The status bar item reaches the ready state (the server has initialized and said so).
  const statusSelector = '[aria-label^="DeepSeek FIM"]';
  const readyLabel = await waitFor(
    'the DeepSeek status bar item in the ready state',
    async () => {
      const labels = await page.$$eval(statusSelector, (els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      // The server's own status, not the client's "Language server running" placeholder.
      return labels.find((l) => l.startsWith('DeepSeek FIM ready') && !l.includes('Language server running'));
    },
    60_000,
    300,
  );
  log(`status bar: "${readyLabel}"`);

  // 7. Open the file through Quick Open and go to its end.
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type('main.py', { delay: 20 });
  await waitFor(
    'main.py in Quick Open',
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
  log('opened main.py');

  // 8. Type, wait for the ghost text.
  await page.keyboard.type(TYPED, { delay: 40 });
  const ghost = await waitForGhost(page, SUGGESTION);
  log(`ghost text shown: ${JSON.stringify(ghost)}`);

  // 9. Accept, save, read the file.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+S');
  const expected = INITIAL + TYPED + SUGGESTION;
  await waitFor(
    `main.py on disk to equal ${JSON.stringify(expected)}`,
    () => readIfExists(file) === expected || undefined,
    10_000,
  ).catch((error) => {
    throw new Error(`${error.message}; on disk: ${JSON.stringify(readIfExists(file))}`);
  });
  log(`saved file holds typed text + suggestion: ${JSON.stringify(readIfExists(file))}`);

  // 10. The emulator saw FIM requests, authenticated with the key from the environment.
  const firstRequests = await emulatorRequests(emulatorUrl);
  if (firstRequests.length === 0 || !firstRequests.every((r) => authTail(r) === API_KEY.slice(-4))) {
    throw new Error(`expected FIM requests with the environment's key: ${JSON.stringify(firstRequests.map(authTail))}`);
  }
  log(`emulator saw ${firstRequests.length} completion request(s) with the environment's key`);

  // 11. "DeepSeek FIM: Set API Key" stores a key in SecretStorage and hands it to the server: from
  //     now on the emulator accepts only that key, so the next ghost text proves it was sent.
  await runCommand(page, 'DeepSeek FIM: Set API Key');
  const password = await page.waitForSelector('.quick-input-widget input[type="password"]', { state: 'visible' });
  await password.type(STORED_KEY, { delay: 10 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
  await waitFor(
    'the "API key saved" notification',
    async () => (await page.$$eval('.notification-list-item-message', (els) => els.map((e) => e.textContent ?? ''))).some((t) => t.includes('API key saved')),
    15_000,
  );
  await postJson(`${emulatorUrl}/_emulator/config`, { api_keys: [STORED_KEY] });
  const settingsText = readIfExists(path.join(dirs.userdata, 'User', 'settings.json'));
  if (settingsText.includes(STORED_KEY) || settingsText.includes('apiKey')) {
    throw new Error('the API key was written to settings.json');
  }
  await focusEditorEnd(page);
  await page.keyboard.press('Enter');
  await page.keyboard.type(TYPED_2, { delay: 40 });
  await waitForGhost(page, SUGGESTION_2);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+S');
  const expected2 = expected + '\n' + TYPED_2 + SUGGESTION_2;
  await waitFor(`main.py on disk to equal ${JSON.stringify(expected2)}`, () => readIfExists(file) === expected2, 10_000)
    .catch((error) => {
      throw new Error(`${error.message}; on disk: ${JSON.stringify(readIfExists(file))}`);
    });
  const later = (await emulatorRequests(emulatorUrl)).slice(firstRequests.length);
  if (!later.some((r) => authTail(r) === STORED_KEY.slice(-4) && r.status === 200)) {
    throw new Error(`no successful request with the stored key: ${JSON.stringify(later.map((r) => [authTail(r), r.status]))}`);
  }
  log('Set API Key: the stored key reached the server (accepted by the emulator), not in settings.json');

  // 12. Status bar menu → toggle: the server turns completion off, the item and the setting follow.
  await openStatusMenu(page, statusSelector, 'Toggle completions');
  const disabledLabel = await waitFor(
    'the status bar item in the disabled state',
    async () => (await page.$$eval(statusSelector, (els) => els.map((e) => e.getAttribute('aria-label') ?? ''))).find((l) => l.startsWith('DeepSeek FIM disabled')),
    15_000,
  );
  await waitFor(
    '"deepseekFim.enabled": false in settings.json',
    () => /"deepseekFim\.enabled"\s*:\s*false/.test(readIfExists(path.join(dirs.userdata, 'User', 'settings.json'))),
    10_000,
  );
  log(`toggle from the status bar menu: "${disabledLabel}"`);

  // 13. Status bar menu → statistics: the server's numbers in a readable dialog.
  await openStatusMenu(page, statusSelector, 'Show usage statistics');
  const dialog = await waitFor(
    'the usage statistics dialog',
    async () => {
      const text = await page.$$eval('.monaco-dialog-box', (els) => els.map((e) => e.textContent ?? '').join('\n'));
      return text.includes('DeepSeek FIM usage') && text.includes('Today:') ? text : undefined;
    },
    15_000,
  );
  const stats = /Today: (\d+) requests, (\d+) of (\d+) suggestions accepted/.exec(dialog);
  if (!dialog.includes('Completions off') || !stats || Number(stats[1]) < 2 || Number(stats[2]) < 2) {
    throw new Error(`unexpected statistics: ${dialog}`);
  }
  await page.keyboard.press('Escape');
  log(`statistics dialog: ${stats[0]}`);

  // 14. "DeepSeek FIM: Rewrite Selection…" on line 2: instruction box → server → chat → edit.
  await focusEditorEnd(page);
  await selectLine(page, 2);
  await runCommand(page, 'DeepSeek FIM: Rewrite Selection');
  await answerInstruction(page, INSTRUCTION_1);
  const afterRewrite1 = `${INITIAL}${REWRITE_1}\n${TYPED_2}${SUGGESTION_2}`;
  await saveAndExpect(page, file, afterRewrite1);
  log('Rewrite Selection… replaced line 2 with the model\'s rewrite');

  // 15. The server's own "DeepSeek: Rewrite…" code action (Ctrl+.) on line 3: the extension asks
  //     for the instruction before the server runs it.
  await selectLine(page, 3);
  await page.keyboard.press('Control+.');
  await waitFor(
    'the "DeepSeek: Rewrite…" code action',
    async () => (await page.$$eval('.action-widget .monaco-list-row', (els) => els.map((e) => e.textContent ?? ''))).some((t) => t.includes('DeepSeek: Rewrite')),
    20_000,
  );
  // The widget takes keys, not clicks (a pointer block covers it): move the focus to the entry.
  await waitFor(
    'the focus on "DeepSeek: Rewrite…"',
    async () => {
      const focused = await page.$eval('.action-widget .monaco-list-row.focused', (e) => e.getAttribute('aria-label') ?? '').catch(() => '');
      if (focused.startsWith('DeepSeek: Rewrite')) {
        return true;
      }
      await page.keyboard.press('ArrowUp');
      return false;
    },
    10_000,
    100,
  );
  await page.keyboard.press('Enter');
  await answerInstruction(page, INSTRUCTION_2);
  await saveAndExpect(page, file, `${INITIAL}${REWRITE_1}\n${REWRITE_2}`);
  const chats = (JSON.parse((await httpRequest(`${emulatorUrl}/_emulator/log`)).text) ?? [])
    .filter((r) => String(r.path).includes('/chat/completions'));
  if (chats.length !== 2) {
    throw new Error(`expected exactly 2 chat requests, got ${chats.length}`);
  }
  log('the Rewrite… code action asked for the instruction and applied the rewrite');

  // 16. "DeepSeek FIM: Explain Selection": the server saves the explanation and shows it (once).
  await focusEditorEnd(page);
  await selectLine(page, 2);
  await runCommand(page, 'DeepSeek FIM: Explain Selection');
  await waitFor(
    'the explanation in an editor tab',
    async () => {
      const tabs = await page.$$eval('.tab', (els) => els.map((e) => e.textContent ?? ''));
      const lines = await page.$$eval('.editor-group-container.active .view-lines', (els) => els.map((e) => e.textContent ?? '').join('\n'));
      return tabs.some((t) => /main\.py-L2-2\.md/.test(t)) && lines.replace(/\u00a0/g, ' ').includes('EXPLAINED:');
    },
    20_000,
  );
  // The command returns just after the server's showDocument; give a duplicate time to appear.
  await sleep(1500);
  const tabs = await page.$$eval('.tab', (els) => els.map((e) => e.textContent ?? ''));
  if (tabs.some((t) => t.includes('Untitled'))) {
    throw new Error(`the explanation was shown twice: ${JSON.stringify(tabs)}`);
  }
  log(`Explain Selection opened the explanation: ${JSON.stringify(tabs)}`);

  // 17. A serverPath that does not exist: changing it restarts the server, which fails with a
  //     message that says how to install the server or fix the setting.
  const settingsFile = path.join(dirs.userdata, 'User', 'settings.json');
  const current = JSON.parse(readIfExists(settingsFile));
  current['deepseekFim.serverPath'] = path.join(tmp, 'nowhere', 'deepseek-fim-lsp');
  // Edited the way a user does (this code-server does not watch settings.json for outside writes).
  await runCommand(page, 'Preferences: Open User Settings (JSON)');
  await waitFor(
    'settings.json in the editor',
    async () => (await page.$$eval('.tab.active', (els) => els.map((e) => e.textContent ?? ''))).some((t) => t.includes('settings.json')),
    15_000,
  );
  await waitFor(
    'the editor to have focus',
    () => page.evaluate(() => !!document.activeElement?.closest('.monaco-editor')),
    10_000,
  );
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify(current, null, 2));
  await page.keyboard.press('Control+S');
  const notice = await waitFor(
    'the "server not found" notification',
    async () => (await page.$$eval('.notification-list-item-message', (els) => els.map((e) => e.textContent ?? ''))).find((t) => t.includes('was not found')),
    20_000,
  );
  if (!notice.includes('pipx install deepseek-fim-lsp') || !notice.includes('deepseekFim.serverPath')) {
    throw new Error(`the notification does not say how to fix it: ${notice}`);
  }
  await waitFor(
    'the status bar item in the stopped state',
    async () => (await page.$$eval(statusSelector, (els) => els.map((e) => e.getAttribute('aria-label') ?? ''))).some((l) => l.startsWith('DeepSeek FIM stopped')),
    10_000,
  );
  log('missing server: restart on the setting change, helpful notification, stopped status');
}

/** Selects a whole line (1-based) without its line break. */
async function selectLine(page, line) {
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < line; i++) {
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
}

/** Types into the "How should the selected code be changed?" box and confirms. */
async function answerInstruction(page, instruction) {
  await waitFor(
    'the rewrite instruction box',
    async () => (await page.$$eval('.quick-input-widget', (els) => els.map((e) => (e instanceof HTMLElement && e.offsetParent !== null ? e.textContent ?? '' : '')))).some((t) => t.includes('Rewrite selection')),
    15_000,
  );
  await page.keyboard.type(instruction, { delay: 10 });
  await page.keyboard.press('Enter');
}

async function saveAndExpect(page, file, expected) {
  await waitFor(
    `main.py on disk to equal ${JSON.stringify(expected)}`,
    async () => {
      await page.keyboard.press('Control+S');
      return readIfExists(file) === expected;
    },
    20_000,
    500,
  ).catch((error) => {
    throw new Error(`${error.message}; on disk: ${JSON.stringify(readIfExists(file))}`);
  });
}

async function emulatorRequests(emulatorUrl) {
  const list = JSON.parse((await httpRequest(`${emulatorUrl}/_emulator/log`)).text);
  return (Array.isArray(list) ? list : []).filter((r) => String(r.path).includes('/completions'));
}

/** The last 4 characters of the bearer key as the emulator's log shows it (masked). */
function authTail(request) {
  const headers = request.headers ?? {};
  const value = headers.authorization ?? headers.Authorization ?? '';
  return String(value).slice(-4);
}

async function postJson(url, body) {
  const res = await httpRequest(url, 'POST', body);
  if (res.status !== 200) {
    throw new Error(`POST ${url}: ${res.status} ${res.text}`);
  }
}

/** Runs a command from the command palette by its title. */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await input.type(title, { delay: 10 });
  await waitFor(
    `"${title}" in the command palette`,
    async () => (await page.$$eval('.quick-input-widget .monaco-list-row', (els) => els.map((e) => e.textContent ?? ''))).some((t) => t.includes(title)),
    15_000,
  );
  await page.keyboard.press('Enter');
}

/** Clicks the status bar item and picks an entry of its menu. */
async function openStatusMenu(page, statusSelector, entry) {
  await page.click(statusSelector);
  await page.waitForSelector('.quick-input-widget .monaco-list-row', { state: 'visible' });
  await page.keyboard.type(entry, { delay: 10 });
  await waitFor(
    `"${entry}" in the status bar menu`,
    async () => (await page.$$eval('.quick-input-widget .monaco-list-row', (els) => els.map((e) => e.textContent ?? ''))).some((t) => t.includes(entry)),
    10_000,
  );
  await page.keyboard.press('Enter');
}

async function focusEditorEnd(page) {
  const focused = await page.evaluate(() => !!document.activeElement?.closest('.monaco-editor'));
  if (!focused) {
    await page.click('.monaco-editor .view-lines');
  }
  await page.keyboard.press('Control+End');
}

async function waitForGhost(page, suggestion) {
  return waitFor(
    `ghost text ${JSON.stringify(suggestion)}`,
    async () => {
      const text = await page.$$eval('.monaco-editor .ghost-text-decoration', (els) =>
        els.map((e) => e.textContent ?? '').join(''),
      );
      const normalized = text.replace(/\u00a0/g, ' ');
      return normalized === suggestion ? normalized : undefined;
    },
    30_000,
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

const budget = setTimeout(async () => {
  log(`FAILED: the whole test exceeded ${TOTAL_BUDGET_MS} ms`);
  process.exitCode = 1;
  fs.mkdirSync(failureDir, { recursive: true });
  await Promise.race([cleanup(), sleep(30_000)]);
  process.exit(1);
}, TOTAL_BUDGET_MS);

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
    log("cleaned up");
    if (!process.exitCode && fs.existsSync(failureDir)) {
      fs.rmSync(failureDir, { recursive: true, force: true });
    }
    // Everything we started is stopped; don't wait for idle keep-alive sockets to time out.
    process.exit(process.exitCode ?? 0);
  });
