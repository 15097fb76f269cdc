"""BLEU (Papineni, Roukos, Ward & Zhu 2002), the score captioning papers report: how many of
a caption's n-grams (n = 1..4) appear in the reference captions, clipped by the most times
any one reference has them, as a geometric mean over n, times a penalty for captions
shorter than their references. Corpus-level, as Xu et al. 2015 report it; the tests check
it against NLTK's corpus_bleu.
"""
from __future__ import annotations

import math
from collections import Counter


def ngrams(words, n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(references: list[list[list[str]]], hypotheses: list[list[str]],
                max_n: int = 4) -> float:
    """BLEU-max_n of hypotheses (word lists) against their references (each a list of
    word lists), with uniform weights and no smoothing: 0 when some n-gram order has no
    match at all."""
    matched, total = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for refs, hyp in zip(references, hypotheses):
        hyp_len += len(hyp)
        # the reference length closest to the hypothesis's (the shorter on a tie)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = ngrams(hyp, n)
            most = Counter()
            for r in refs:
                most |= ngrams(r, n)
            matched[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0 or min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    brevity = min(0.0, 1.0 - ref_len / hyp_len)
    return math.exp(log_precision + brevity)


def bleu_scores(references, hypotheses) -> dict[str, float]:
    """BLEU-1 .. BLEU-4, as {"bleu1": ..., ...}."""
    return {f"bleu{n}": corpus_bleu(references, hypotheses, n) for n in range(1, 5)}
