#!/usr/bin/env node
// @ts-check
/*
 * End-to-end scenario with VS Code's DEFAULT editor settings (quick suggestions on, suggest on
 * trigger characters, word-based suggestions): what a new user gets, and what it costs.
 *
 *   1. First launch: the server is held back (a wrapper waits for a go-file) while the user opens
 *      main.py and types; then it starts. The ghost text for what was typed must appear without
 *      another keystroke (the extension asks once when the server reports ready).
 *   2. A typing session: realistic Python (auto-indent and auto-closed brackets as VS Code does
 *      them, Backspace to dedent) at about 90 ms per key. The emulator's request log counts the
 *      FIM requests it cost; the wrapper's copy of the LSP traffic says what the editor asked.
 *
 * Prints one `RESULT:{json}` line of observations; tests/editors/test_vscode.py asserts on them
 * (the ceiling on FIM requests per 100 typed characters lives there). Exit code 0 = the scenario
 * ran to the end (not that the figures are good).
 * Environment: see lib.js; DFL_E2E_KEY_MS changes the typing interval (default 90).
 */
'use strict';

const fs = require('fs');
const path = require('path');

const {
  fimRequests,
  ghostText,
  launch,
  log,
  openFile,
  readIfExists,
  runScenario,
  sleep,
  statusLabels,
  tmp,
  waitFor,
  waitForReady,
} = require('./lib');

const TOTAL_BUDGET_MS = 300_000;
const KEY_MS = Number(process.env.DFL_E2E_KEY_MS || 90);
/** After the last key, how long requests still count (debounce + answers in flight). */
const SETTLE_MS = 3000;

const INITIAL = '# first launch\n';
const EARLY = 'answer = compute';
const EARLY_SUGGESTION = '(41) + 1';
/**
 * What the user types: "\n" is Enter (VS Code indents after a colon), "\b" is Backspace (one
 * indentation level back). Lines end in punctuation or digits, so Enter is not taken by a word
 * suggestion the user would have dismissed.
 */
const SESSION = [
  'def mean(values):\n',
  'total = 0\n',
  'for v in values:\n',
  'total += abs(v)\n',
  '\breturn total / len(values)\n',
  '\b\n',
  'def spread(values):\n',
  'return max(values) - min(values)\n',
].join('');

/**
 * The LSP messages in a Content-Length framed byte stream (what the wrapper copied), from byte
 * `from` on.
 */
function lspMessages(file, from = 0) {
  let buf;
  try {
    buf = fs.readFileSync(file).subarray(from);
  } catch {
    return [];
  }
  const out = [];
  let at = 0;
  for (;;) {
    const headerEnd = buf.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) {
      break;
    }
    const m = /Content-Length: *(\d+)/i.exec(buf.subarray(at, headerEnd).toString('latin1'));
    if (!m) {
      break;
    }
    const start = headerEnd + 4;
    const end = start + Number(m[1]);
    if (end > buf.length) {
      break;
    }
    try {
      out.push(JSON.parse(buf.subarray(start, end).toString('utf8')));
    } catch {
      // a torn message: skip it
    }
    at = end;
  }
  return out;
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * What the editor asked: requests per method, and for completion / inline completion per trigger
 * kind ("inline:selected" = with selectedCompletionInfo, the suggest widget open).
 */
function summarize(messages) {
  /** @type {Record<string, number>} */
  const counts = {};
  const bump = (key) => {
    counts[key] = (counts[key] ?? 0) + 1;
  };
  for (const msg of messages) {
    if (msg.id === undefined || typeof msg.method !== 'string') {
      continue;
    }
    const context = msg.params?.context ?? {};
    if (msg.method === 'textDocument/completion') {
      bump(`completion:triggerKind=${context.triggerKind ?? 'none'}`);
    } else if (msg.method === 'textDocument/inlineCompletion') {
      bump(`inline:triggerKind=${context.triggerKind}`);
      if (context.selectedCompletionInfo) {
        bump('inline:selected');
      }
    } else {
      bump(msg.method);
    }
  }
  return counts;
}

/** Presses one key of the session ("\n" Enter, "\b" Backspace, else the character). */
async function press(page, ch) {
  if (ch === '\n') {
    await page.keyboard.press('Enter');
  } else if (ch === '\b') {
    await page.keyboard.press('Backspace');
  } else {
    await page.keyboard.type(ch);
  }
}

async function main() {
  const lspIn = path.join(tmp, 'lsp-in.log');
  const lspOut = path.join(tmp, 'lsp-out.log');
  const go = path.join(tmp, 'server.go');
  const { page, emulatorUrl, dirs } = await launch({
    rules: [{ reply: { text: EARLY_SUGGESTION }, prompt_endswith: EARLY }],
    // VS Code's defaults for everything the editor does; the extension's defaults too.
    settings: {},
    files: { 'main.py': INITIAL },
    serverPath: (server) => {
      // Holds the server back until the test says go, and copies its LSP traffic.
      const wrapper = path.join(tmp, 'server-wrapper.sh');
      fs.writeFileSync(
        wrapper,
        [
          '#!/bin/sh',
          `while [ ! -e '${go}' ]; do sleep 0.1; done`,
          `tee -a '${lspIn}' | '${server}' "$@" | tee -a '${lspOut}'`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      return wrapper;
    },
  });
  const file = path.join(dirs.workspace, 'main.py');
  /** @type {Record<string, unknown>} */
  const result = { key_ms: KEY_MS };

  // 1. First launch: type while the server is still starting.
  await openFile(page, 'main.py');
  await page.keyboard.type(EARLY, { delay: KEY_MS });
  const labels = await statusLabels(page);
  result.typed_before_ready = labels.some((l) => l.startsWith('DeepSeek FIM starting'));
  log(`typed ${JSON.stringify(EARLY)} while the status bar said ${JSON.stringify(labels)}`);
  fs.writeFileSync(go, 'go');
  log(`status bar: "${await waitForReady(page)}"`);
  const early = await waitFor('ghost text without another keystroke', async () => {
    const text = await ghostText(page);
    return text === EARLY_SUGGESTION ? text : undefined;
  }, 10_000, 100).catch(() => undefined);
  result.first_launch_ghost = early ?? null;
  // Anything that was going to be asked for it has been by now.
  await sleep(1000);
  result.first_launch_fim_requests = (await fimRequests(emulatorUrl)).length;
  result.first_launch_lsp = summarize(lspMessages(lspIn));
  log(`first launch: ghost ${JSON.stringify(result.first_launch_ghost)}, ${result.first_launch_fim_requests} FIM request(s), ${JSON.stringify(result.first_launch_lsp)}`);

  // 2. The typing session, on a new line below.
  await page.keyboard.press('Escape');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await sleep(1500);
  const fimBefore = (await fimRequests(emulatorUrl)).length;
  const lspFrom = fileSize(lspIn);
  const t0 = Date.now();
  for (const ch of SESSION) {
    // At least KEY_MS from key to key: a slow page delays the next key, it never bunches them.
    const pressed = Date.now();
    await press(page, ch);
    await sleep(Math.max(0, KEY_MS - (Date.now() - pressed)));
  }
  const typedMs = Date.now() - t0;
  await sleep(SETTLE_MS);
  const sessionRequests = (await fimRequests(emulatorUrl)).slice(fimBefore);
  const fim = sessionRequests.length;
  // Where each request was made (the prompt's last line, the suffix's first), when (ms after the
  // session's first request) and how it ended.
  const first = sessionRequests[0]?.started ?? 0;
  result.session_fim = sessionRequests.map((r) => {
    const prompt = String(r.body?.prompt ?? '');
    const suffix = String(r.body?.suffix ?? '');
    return {
      at_ms: Math.round((r.started - first) * 1000),
      before: prompt.slice(prompt.lastIndexOf('\n') + 1),
      after: suffix.split('\n')[0],
      n: r.body?.n ?? 1,
      outcome: r.outcome,
    };
  });
  // Typing on at 90 ms a key outruns the debounce: the ghost text comes when the user pauses.
  result.ghost_after_session = await ghostText(page);
  result.session_keys = SESSION.length;
  result.session_ms = typedMs;
  result.session_fim_requests = fim;
  result.fim_per_100_keys = Math.round((fim * 10000) / SESSION.length) / 100;
  result.session_lsp = summarize(lspMessages(lspIn, lspFrom));
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  await sleep(1000);
  result.final_text = readIfExists(file);
  result.lsp_out_bytes = fileSize(lspOut);
  log(`session: ${SESSION.length} keys in ${typedMs} ms, ${fim} FIM request(s) = ${result.fim_per_100_keys} per 100 keys; ${JSON.stringify(result.session_lsp)}`);
  process.stdout.write(`RESULT:${JSON.stringify(result)}\n`);
}

runScenario(main, TOTAL_BUDGET_MS);
