/**
 * Settings → what the language server receives. Kept free of `vscode` imports so it can be unit
 * tested in plain node.
 *
 * The server reads one settings object (section `deepseekFim`, see docs/settings.md). The extension
 * sends it three ways: as `initializationOptions`, in `workspace/didChangeConfiguration`, and as the
 * answer to `workspace/configuration`. All three are built by `buildServerSettings` so they agree.
 */

export const SECTION = 'deepseekFim';

/** Keys forwarded to the server. `apiKey` is deliberately absent: it lives in SecretStorage. */
export const SERVER_SETTING_KEYS = [
  'baseUrl',
  'model',
  'enabled',
  'manualOnly',
  'debounceMs',
  'maxTokens',
  'temperature',
  'prefixTokens',
  'suffixTokens',
  'requestTimeoutMs',
  'cacheSize',
  'multiline',
  'invokedSuggestions',
  'crossFile',
  'crossFileTokens',
  'exclude',
  'chatModel',
  'chatThinking',
  'chatMaxTokens',
  'dailyTokenBudget',
  'dailyCostBudget',
  'prices',
  'logLevel',
] as const;

/** Settings used only by the extension itself (how to start the server). */
export const CLIENT_SETTING_KEYS = ['serverPath', 'serverArgs'] as const;

/** Keys whose empty string means "not set: let the server use its own default / environment". */
const EMPTY_MEANS_UNSET: ReadonlySet<string> = new Set(['baseUrl', 'model', 'chatModel']);

export type ServerSettings = Record<string, unknown>;

/** Reads one setting by key (relative to the section); `undefined` when it has no value. */
export type SettingGetter = (key: string) => unknown;

/**
 * Builds the server's settings object from the editor configuration.
 *
 * Only known keys are taken, so a stray `deepseekFim.apiKey` in settings.json is never forwarded
 * (the key belongs in SecretStorage), nor are the client-only `serverPath` / `serverArgs`.
 */
export function buildServerSettings(get: SettingGetter, apiKey?: string): ServerSettings {
  const out: ServerSettings = {};
  for (const key of SERVER_SETTING_KEYS) {
    const value = get(key);
    if (value === undefined || value === null) {
      continue;
    }
    if (EMPTY_MEANS_UNSET.has(key) && typeof value === 'string' && value.trim() === '') {
      continue;
    }
    out[key] = cloneJson(value);
  }
  return mergeApiKey(out, apiKey);
}

/**
 * Adds the API key from SecretStorage. An empty or missing key adds nothing, so the server's own
 * `DEEPSEEK_API_KEY` environment variable keeps working.
 */
export function mergeApiKey(settings: ServerSettings, apiKey: string | undefined): ServerSettings {
  const out: ServerSettings = { ...settings };
  delete out.apiKey;
  const key = apiKey?.trim();
  if (key) {
    out.apiKey = key;
  }
  return out;
}

/** True when a configuration item requests our section (as the server pulls it). */
export function isOurSection(section: string | undefined | null): boolean {
  return section === SECTION;
}

/**
 * Answers a `workspace/configuration` request: our section gets `settings`, every other item keeps
 * the answer the default handler gave (`fallback`, same order as `items`).
 */
export function answerConfiguration(
  items: ReadonlyArray<{ section?: string | null }>,
  fallback: ReadonlyArray<unknown>,
  settings: ServerSettings,
): unknown[] {
  return items.map((item, index) =>
    isOurSection(item.section) ? cloneJson(settings) : index < fallback.length ? fallback[index] : null,
  );
}

/** True when a settings change needs a server restart rather than a settings push. */
export function needsRestart(affects: (key: string) => boolean): boolean {
  return CLIENT_SETTING_KEYS.some((key) => affects(`${SECTION}.${key}`));
}

function cloneJson<T>(value: T): T {
  // Settings values from VS Code are frozen proxies; send plain copies.
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
