"""Evaluation metrics, per item and per set.

Every metric is the same shape: a few sufficient statistics per item (an n x k array) and a function
of their column sums. A mean is (value, 1) per item and sum[0] / sum[1]; perplexity is (negative log
likelihood, tokens) and exp(sum[0] / sum[1]); BLEU and chrF++ are sacrebleu's own sentence statistics
and its corpus formula. One interval method (`intervals`, the jackknife over items) then serves every
metric, and a paired comparison of a fine-tuned model against its base leaves the same item out of
both.

Text metrics (exact match, F1, ROUGE-L, and chrF++ and BLEU, whose sacrebleu statistics are taken
of the normalised texts) share one normalisation, `normalize_text`: NFC, the
zero-width (non-)joiners U+200C/U+200D removed (in Telugu they choose between spellings of the same
word, "మీటర్లో" / "మీటర్‌లో": pitfall 21), case-folded. They then work on Unicode words (letters,
marks and digits), so Telugu, whose vowel signs and viramas are combining marks that Python's `\\w`
does not match, is not cut inside a word and is not dropped (pitfall 9: rouge_score's default
tokenizer keeps only [a-z0-9]); danda and double danda are punctuation.
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
JOINERS = str.maketrans("", "", "\u200c\u200d")


def normalize_text(text: str) -> str:
    """The one normalisation of the text metrics: NFC, ZWNJ/ZWJ removed, case-folded."""
    return unicodedata.normalize("NFC", text).translate(JOINERS).casefold()


def words(text: str) -> list[str]:
    """Unicode words of the normalised text: runs of letters, combining marks and digits."""
    return WORD.findall(normalize_text(text))


class UnicodeTokenizer:
    """A tokenizer for rouge_score that keeps every script (its default keeps only [a-z0-9])."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


# --- question answering (SQuAD's definitions, with Unicode-aware normalisation) -----------------
PUNCTUATION = regex.compile(r"[\p{P}\p{S}]")


def normalize_answer(text: str, lang: str) -> list[str]:
    """SQuAD's normalisation in Unicode: case-folded, punctuation and symbols deleted (so "don't"
    is one token, as in SQuAD), English articles removed, split on white space."""
    text = PUNCTUATION.sub("", normalize_text(text))
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


# A refusal is the speaker declining to act: a first-person "cannot / will not / must decline" with an
# act of assisting (help, answer, complete, write, ...), or a Telugu first-person negative of such a
# verb (చేయలేను "I cannot do", ఇవ్వలేను "I cannot give", చేయను "I will not do", ...). Apologies,
# "not appropriate" and negations of other verbs ("I cannot stress enough", "ఇది సరికాదు", "this is
# not correct") are not refusals; tests/test_metrics.py holds refusals and near misses in both languages.
_DECLINE = (r"(?:cannot|can\s*not|can't|won't|will\s+not|would\s+not|wouldn't|am\s+(?:not\s+able|unable)"
            r"|'m\s+(?:not\s+able|unable)|(?:am|'m)\s+not\s+going|must\s+(?:decline|refuse)|have\s+to\s+decline)")
_ACT = (r"(?:help(?!\s+(?:but|thinking|feeling|noticing|wondering|myself|it\b))|assist|provide|complete|comply|fulfil+"
        r"|answer|write|generate|create|do\s+(?:that|this|so)|continue|finish|produce|respond"
        r"|share(?!\s+your)|engage|participate)")
REFUSAL = re.compile(
    rf"\bi\s*{_DECLINE}(?:\s+to)?\s+(?:\w+\s+)?{_ACT}\b"
    r"|\bi\s+(?:must\s+|have\s+to\s+)?(?:refuse|decline)\b"
    r"|\bnot\s+something\s+i\s+(?:can|will|could)\s+(?:help|assist|do)\b"
    r"|(?:చేయ|ఇవ్వ|రాయ|నెరవేర్చ|చెప్ప|అందించ|సృష్టించ|సహాయపడ)(?:లేను|ను)(?![\u0C00-\u0C7F])"
    r"|నాకు\s+తగదు",
    re.IGNORECASE,
)


def refused(text: str) -> float:
    """1.0 when the output declines (a lexical detector of the study's refusal, Listing 7)."""
    return float(bool(REFUSAL.search(normalize_text(text).replace("\u2019", "'"))))


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
    """sacrebleu's statistics of the normalised texts (`normalize_text`, as exact match, F1 and
    ROUGE-L see them: a ZWNJ spelling variant is not a character error)."""
    width = max(len(r) for r in references)
    streams = [[normalize_text(r[j]) if j < len(r) else None for r in references]
               for j in range(width)]  # sacrebleu skips None
    hypotheses = [normalize_text(h) for h in hypotheses]
    stats = np.asarray(scorer._extract_corpus_statistics(hypotheses, streams), dtype=float)
    return Metric(name, stats, lambda t: float(scorer._compute_score_from_stats(t.tolist()).score))


def chrf_pp(hypotheses: list[str], references: list[list[str]]) -> Metric:
    """chrF++: sacrebleu's chrF with word n-grams of order 2 (pitfall 10)."""
    from sacrebleu.metrics import CHRF

    return _sacrebleu_metric("chrf++", CHRF(word_order=2), hypotheses, references)


BLEU_TOKENIZER = "intl"


def bleu(hypotheses: list[str], references: list[list[str]]) -> Metric:
    """sacrebleu BLEU with its `intl` tokenizer, which splits every Unicode punctuation mark and symbol
    (Telugu's danda and double danda included: 13a splits ASCII punctuation only, leaving "ఉంటాయి।"
    one token). The metric is named for it, `bleu_intl`, in every table."""
    from sacrebleu.metrics import BLEU

    return _sacrebleu_metric(f"bleu_{BLEU_TOKENIZER}", BLEU(tokenize=BLEU_TOKENIZER), hypotheses, references)
