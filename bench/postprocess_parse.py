"""Clean-up cost with the tree-sitter judge: one parse per reading, in a window around the cursor.

For each golden case with a grammar, and for the same cursor in a document padded to a huge
file, times ``clean`` (the whole post-processing of one answer) and one bare parse of the window
the judge reads. Prints medians and p95 in milliseconds.

    .venv/bin/python bench/postprocess_parse.py [--repeat N] [--pad-kb N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "postprocess")]

from test_golden import CASES  # noqa: E402

from deepseek_fim_lsp.postprocess import choose_mode, clean  # noqa: E402
from deepseek_fim_lsp.postprocess.syntax_cut import errors, window  # noqa: E402
from deepseek_fim_lsp.syntax.languages import parser_for  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.3f} ms, p95 {p95:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--pad-kb", type=int, default=400, help="size of the 'huge file' variant")
    args = ap.parse_args()
    cases = [c for c in CASES if parser_for(c.language) is not None]
    for label, pad in (("as written", 0), (f"padded to ~{args.pad_kb} kB", args.pad_kb)):
        cleans: list[float] = []
        parses: list[float] = []
        sizes: list[int] = []
        for case in cases:
            parser = parser_for(case.language)
            assert parser is not None
            filler = ("\n" + case.prefix) * max(0, pad * 1024 // max(1, len(case.prefix) + 1))
            prefix, suffix = filler + case.prefix, case.suffix + filler
            mode = choose_mode(prefix, suffix, "auto")
            before, after = window(prefix, suffix)
            sizes.append(len(before) + len(after))
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                clean(case.raw, prefix=prefix, suffix=suffix, mode=mode, language=case.language)
                t1 = time.perf_counter()
                errors(parser, before + case.raw + after)
                t2 = time.perf_counter()
                cleans.append((t1 - t0) * 1000)
                parses.append((t2 - t1) * 1000)
        print(f"{label}: {len(cases)} cases, window {statistics.median(sizes):.0f} chars (median)")
        print(f"  clean (whole post-processing): {_ms(cleans)}")
        print(f"  one parse of the window:       {_ms(parses)}")


if __name__ == "__main__":
    main()
