/**
 * Locating the language server executable, and the words used when it is missing. Pure (the file
 * system is injected) so it is unit tested.
 */
import * as path from 'path';

export const DEFAULT_SERVER = 'deepseek-fim-lsp';

export interface ServerCommand {
  command: string;
  args: string[];
}

export type Resolution =
  | { found: true; command: string; args: string[] }
  | { found: false; command: string; message: string };

/** Expands a leading `~` and `${env:NAME}` the way users write paths in settings. */
export function expandPath(value: string, env: Record<string, string | undefined>): string {
  let out = value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env[name] ?? '');
  const home = env.HOME ?? env.USERPROFILE;
  if (home && (out === '~' || out.startsWith('~/'))) {
    out = home + out.slice(1);
  }
  return out;
}

/**
 * Resolves `serverPath` (a name looked up on PATH, or a path) to an executable.
 * `isExecutable` is injected: `fs.accessSync(p, X_OK)` in the extension, a fake in tests.
 */
export function resolveServer(
  serverPath: string | undefined,
  serverArgs: unknown,
  env: Record<string, string | undefined>,
  isExecutable: (file: string) => boolean,
  platform: string = process.platform,
): Resolution {
  const raw = serverPath && serverPath.trim() ? serverPath.trim() : DEFAULT_SERVER;
  const command = expandPath(raw, env);
  const args = Array.isArray(serverArgs) ? serverArgs.filter((a): a is string => typeof a === 'string') : [];
  const candidates: string[] = [];
  if (command.includes('/') || (platform === 'win32' && command.includes('\\'))) {
    candidates.push(command);
  } else {
    const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
    const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
    for (const dir of dirs) {
      for (const ext of exts) {
        candidates.push(path.join(dir, command + ext.toLowerCase()));
        if (ext) {
          candidates.push(path.join(dir, command + ext));
        }
      }
    }
  }
  const hit = candidates.find((c) => isExecutable(c));
  if (hit) {
    return { found: true, command: hit, args };
  }
  return { found: false, command, message: missingServerMessage(command) };
}

/** Tells the user what is missing and both ways to fix it. */
export function missingServerMessage(command: string): string {
  const what = command === DEFAULT_SERVER
    ? `the language server \`${DEFAULT_SERVER}\` was not found on PATH`
    : `the language server \`${command}\` (setting deepseekFim.serverPath) was not found or is not executable`;
  return (
    `DeepSeek FIM: ${what}. Install it with \`pipx install deepseek-fim-lsp\` ` +
    `(or \`pip install -e <path to the deepseek-fim-lsp checkout>\`), ` +
    `or set "deepseekFim.serverPath" to the full path of the \`deepseek-fim-lsp\` executable, ` +
    `then run "DeepSeek FIM: Restart Server".`
  );
}
