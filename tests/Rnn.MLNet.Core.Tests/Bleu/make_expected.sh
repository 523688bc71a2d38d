#!/usr/bin/env bash
# Regenerates expected.txt: for each hypothesis file, the exact match % and corpus BLEU-4 that
# ../shared/data/eng-fra/evaluate.py computes (its own functions, printed at full precision; its command line prints the
# same values rounded to 2 decimals). The fixture: test.tsv = the first 30 rows of that set's test.tsv; hyp-*.txt =
# perturbed, shortened (brevity penalty), partly shuffled and no-4-gram-match hypotheses, written once by a seeded script.
set -euo pipefail
cd "$(dirname "$0")"
data=$(cd ../../../../shared/data/eng-fra && pwd)
for f in hyp-*.txt; do
  python3 - "$data" "$f" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import evaluate
test = evaluate.read_tsv("test.tsv")
refs = [t for _, t in test]
hyps = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
exact = 100.0 * sum(h == r for h, r in zip(hyps, refs)) / len(refs)
print(sys.argv[2], repr(evaluate.bleu(hyps, refs)), repr(exact))
PY
done > expected.txt
