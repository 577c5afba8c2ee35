"""Evaluation metrics, per item and per set, and paired bootstrap intervals.

Every metric is the same shape: a few sufficient statistics per item (an n x k array) and a function
of their column sums. A mean is (value, 1) per item and sum[0] / sum[1]; perplexity is (negative log
likelihood, tokens) and exp(sum[0] / sum[1]); BLEU and chrF++ are sacrebleu's own sentence statistics
and its corpus formula. One resampling scheme then serves every metric, and a paired bootstrap of a
fine-tuned model against its base resamples the same items for both.

Text metrics work on Unicode words (letters, marks and digits), so Telugu, whose vowel signs are
combining marks that Python's `\\w` does not match, is not cut inside a word and is not dropped
(pitfall 9: rouge_score's default tokenizer keeps only [a-z0-9]).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import regex

from ..languages import script_of_char, script_of_language

WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")


def words(text: str) -> list[str]:
    """Lower-cased Unicode words: runs of letters, combining marks and digits (NFC first)."""
    return WORD.findall(unicodedata.normalize("NFC", text).casefold())


class UnicodeTokenizer:
    """A tokenizer for rouge_score that keeps every script (its default keeps only [a-z0-9])."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


# --- question answering (SQuAD's definitions, with Unicode-aware normalisation) -----------------
PUNCTUATION = regex.compile(r"[\p{P}\p{S}]")


def normalize_answer(text: str, lang: str) -> list[str]:
    """SQuAD's normalisation in Unicode: case-folded, punctuation and symbols deleted (so "don't"
    is one token, as in SQuAD), English articles removed, split on white space."""
    text = PUNCTUATION.sub("", unicodedata.normalize("NFC", text).casefold())
    if lang == "en":
        text = ENGLISH_ARTICLES.sub(" ", text)
    return text.split()


def exact_match(prediction: str, references: list[str], lang: str) -> float:
    pred = normalize_answer(prediction, lang)
    return float(any(pred == normalize_answer(ref, lang) for ref in references))


def token_f1(prediction: str, references: list[str], lang: str) -> float:
    pred = normalize_answer(prediction, lang)

    def f1(ref_tokens):
        common = Counter(pred) & Counter(ref_tokens)
        same = sum(common.values())
        if not pred or not ref_tokens:
            return float(pred == ref_tokens)
        if same == 0:
            return 0.0
        precision, recall = same / len(pred), same / len(ref_tokens)
        return 2 * precision * recall / (precision + recall)

    return max(f1(normalize_answer(ref, lang)) for ref in references)


def rouge_l(prediction: str, references: list[str]) -> float:
    """ROUGE-L F-measure (rouge_score) on Unicode words, best over the references."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())
    return max(scorer.score(ref, prediction)["rougeL"].fmeasure for ref in references)


# --- degeneration --------------------------------------------------------------------------------
def repetition_rate(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same output (0: none repeats;
    an output looping one phrase approaches 1). NaN for outputs shorter than n words."""
    tokens = words(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return math.nan
    return 1.0 - len(set(grams)) / len(grams)


def expected_script(lang: str) -> str:
    return "Latin" if lang == "en" else script_of_language(lang).name


def letter_scripts(text: str) -> Counter:
    """Letters and marks per script (Unicode categories L* and M*), 'other' for unknown scripts."""
    return Counter(script_of_char(ch) or "other" for ch in text if unicodedata.category(ch)[0] in "LM")


def script_fidelity(text: str, lang: str) -> float:
    """Share of the letters of `text` that are in the script of `lang` (NaN with no letters)."""
    counts = letter_scripts(text)
    total = sum(counts.values())
    return counts[expected_script(lang)] / total if total else math.nan


REFUSAL = re.compile(
    r"\b(i\s+(?:apologi[sz]e|cannot|can\s*not|can't|won't|will\s+not|am\s+(?:not\s+able|unable)|'m\s+(?:not\s+able|unable))"
    r"|i'm\s+sorry|i\s+am\s+sorry|not\s+(?:appropriate|respectful)|as\s+an\s+ai)\b"
    r"|క్షమించండి|క్షమాపణ|చేయలేను|సముచితం\s+కాదు|తగదు|సరికాదు",
    re.IGNORECASE,
)


def refused(text: str) -> float:
    """1.0 when the output declines (a lexical detector of the study's refusal, Listing 7)."""
    return float(bool(REFUSAL.search(unicodedata.normalize("NFC", text).replace("\u2019", "'"))))


# --- set-level metrics from per-item statistics ------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """Per-item statistics (n x k) and the value of summed statistics (an array of k)."""

    name: str
    stats: np.ndarray
    value: Callable[[np.ndarray], float]

    def score(self, rows: np.ndarray | None = None) -> float:
        s = self.stats if rows is None else self.stats[rows]
        return self.value(s.sum(axis=0))


def _ratio(total: np.ndarray) -> float:
    return float(total[0] / total[1]) if total[1] else math.nan


def mean_metric(name: str, values) -> Metric:
    """A mean over the items that have a value (NaN items count in neither sum)."""
    v = np.asarray(values, dtype=float)
    has = ~np.isnan(v)
    return Metric(name, np.stack([np.where(has, v, 0.0), has.astype(float)], axis=1), _ratio)


def perplexity_metric(nll, tokens) -> Metric:
    stats = np.stack([np.asarray(nll, dtype=float), np.asarray(tokens, dtype=float)], axis=1)
    return Metric("perplexity", stats, lambda t: float(math.exp(t[0] / t[1])) if t[1] else math.nan)


def bits_per_char_metric(nll, chars) -> Metric:
    """Bits per character of the reference: comparable across tokenizers, unlike perplexity."""
    stats = np.stack([np.asarray(nll, dtype=float), np.asarray(chars, dtype=float)], axis=1)
    return Metric("bits_per_char", stats, lambda t: float(t[0] / t[1] / math.log(2)) if t[1] else math.nan)


def _sacrebleu_metric(name: str, scorer, hypotheses: list[str], references: list[list[str]]) -> Metric:
    width = max(len(r) for r in references)
    streams = [[r[j] if j < len(r) else None for r in references] for j in range(width)]  # sacrebleu skips None
    stats = np.asarray(scorer._extract_corpus_statistics(hypotheses, streams), dtype=float)
    return Metric(name, stats, lambda t: float(scorer._compute_score_from_stats(t.tolist()).score))


def chrf_pp(hypotheses: list[str], references: list[list[str]]) -> Metric:
    """chrF++: sacrebleu's chrF with word n-grams of order 2 (pitfall 10)."""
    from sacrebleu.metrics import CHRF

    return _sacrebleu_metric("chrf++", CHRF(word_order=2), hypotheses, references)


def bleu(hypotheses: list[str], references: list[list[str]]) -> Metric:
    """sacrebleu BLEU with its 13a tokenizer (also for Telugu, where it splits on punctuation only)."""
    from sacrebleu.metrics import BLEU

    return _sacrebleu_metric("bleu", BLEU(tokenize="13a"), hypotheses, references)


# --- bootstrap ---------------------------------------------------------------------------------
def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """How often each of n items is drawn in each bootstrap resample (resamples x n)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts


def bootstrap_values(metric: Metric, counts: np.ndarray) -> np.ndarray:
    sums = counts @ metric.stats
    return np.array([metric.value(row) for row in sums])


def interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return math.nan, math.nan
    alpha = (1 - confidence) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_ci(metric: Metric, *, resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile interval of the metric over items resampled with replacement."""
    n = len(metric.stats)
    if n == 0:
        return math.nan, math.nan
    return interval(bootstrap_values(metric, resample_counts(n, resamples, seed)), confidence)


def paired_bootstrap(base: Metric, tuned: Metric, *, resamples: int, confidence: float, seed: int,
                     higher_is_better: bool = True) -> dict:
    """Difference tuned - base on the same items (rows aligned), with a percentile interval and the
    share of resamples in which the tuned system is not better (a one-sided bootstrap p-value)."""
    if len(base.stats) != len(tuned.stats):
        raise ValueError("a paired bootstrap needs the same items for both systems")
    n = len(base.stats)
    diff = tuned.score() - base.score()
    if n == 0:
        return {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_not_better": math.nan}
    counts = resample_counts(n, resamples, seed)
    deltas = bootstrap_values(tuned, counts) - bootstrap_values(base, counts)
    low, high = interval(deltas, confidence)
    valid = deltas[~np.isnan(deltas)]
    return {"diff": diff, "ci_low": low, "ci_high": high,
            "p_not_better": float(((valid <= 0) if higher_is_better else (valid >= 0)).mean()) if len(valid) else math.nan}

