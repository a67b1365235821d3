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
 * The editor settings turn quick suggestions off: Tab must go to the ghost text, not to a suggest
 * widget. defaults.js runs a typing session with VS Code's default settings.
 * Environment: see lib.js. Exit code 0 = passed.
 */
'use strict';

const path = require('path');

const {
  API_KEY,
  STATUS_SELECTOR,
  emulatorRequests,
  httpRequest,
  launch,
  log,
  openFile,
  postJson,
  readIfExists,
  runScenario,
  sleep,
  tmp,
  waitFor,
  waitForGhost,
  waitForReady,
} = require('./lib');

const TOTAL_BUDGET_MS = 240_000;

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

async function main() {
  const { page, emulatorUrl, dirs } = await launch({
    rules: [
      { reply: { text: SUGGESTION }, prompt_endswith: TYPED },
      { reply: { text: SUGGESTION_2 }, prompt_endswith: TYPED_2 },
      // Chat rewrites: the server opens a code block for the model, so the reply is code + fence.
      { reply: { text: REWRITE_1 + FENCE }, prompt_contains: INSTRUCTION_1, endpoint: 'chat' },
      { reply: { text: REWRITE_2 + FENCE }, prompt_contains: INSTRUCTION_2, endpoint: 'chat' },
      { reply: { text: EXPLANATION }, endpoint: 'chat' },
    ],
    // No word-based suggest widget competing with the ghost text for Tab.
    settings: {
      'deepseekFim.debounceMs': 50,
      'deepseekFim.logLevel': 'debug',
      'editor.inlineSuggest.enabled': true,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
      'editor.wordBasedSuggestions': 'off',
      'files.insertFinalNewline': false,
      'files.trimTrailingWhitespace': false,
    },
    files: { 'main.py': INITIAL },
  });
  const file = path.join(dirs.workspace, 'main.py');
  const statusSelector = STATUS_SELECTOR;

  // 6. The status bar item reaches the ready state (the server has initialized and said so).
  const readyLabel = await waitForReady(page);
  log(`status bar: "${readyLabel}"`);

  // 7. Open the file through Quick Open and go to its end.
  await openFile(page, 'main.py');

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

function authTail(request) {
  const headers = request.headers ?? {};
  const value = headers.authorization ?? headers.Authorization ?? '';
  return String(value).slice(-4);
}

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

runScenario(main, TOTAL_BUDGET_MS);
