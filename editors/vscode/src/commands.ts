/**
 * Argument handling for the server's chat commands (docs/code-actions.md: `deepseekFim.rewrite`
 * `[uri, range, instruction]`, `deepseekFim.explain` `[uri, range]`). Pure, unit tested.
 */

export const SERVER_REWRITE = 'deepseekFim.rewrite';
export const SERVER_EXPLAIN = 'deepseekFim.explain';

/**
 * True when a `deepseekFim.rewrite` invocation carries no instruction, as when the user picks the
 * server's "Rewrite…" code action: the extension then asks for one instead of letting the server
 * fall back to its default.
 */
export function needsInstruction(command: string, args: readonly unknown[]): boolean {
  if (command !== SERVER_REWRITE) {
    return false;
  }
  const instruction = args[2];
  return typeof instruction !== 'string' || instruction.trim() === '';
}

/** `[uri, range, instruction]` from the code action's `[uri, range, ...]`. */
export function withInstruction(args: readonly unknown[], instruction: string): unknown[] {
  return [args[0], args[1], instruction.trim()];
}

/** Whether an explanation returned by the server still needs showing (the server may have). */
export function explanationToShow(result: unknown, shownTexts: readonly string[]): string | undefined {
  if (typeof result !== 'string' || !result.trim()) {
    return undefined;
  }
  const normalized = result.replace(/\r\n/g, '\n');
  return shownTexts.some((t) => t.replace(/\r\n/g, '\n') === normalized) ? undefined : result;
}
