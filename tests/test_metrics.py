"""Each metric on hand-made cases, and the bootstrap on known ones."""

import math

import numpy as np
import pytest
import sacrebleu

from telugu_llm.evaluation import metrics as M

TELUGU = "భారత వాతావరణ శాఖ రాబోయే మూడు రోజుల పాటు భారీ వర్షాలు కురుస్తాయని అంచనా వేసింది."
GURMUKHI = "ਉਪਕਤਭੋਬੀ ਸਵੀਮੁ ਕਾੰਏਂੁ ਭੁਖੈਨੁਕੇ"


def test_words_keep_telugu_vowel_signs_inside_words():
    # Python's \w does not match Telugu vowel signs (category Mc/Mn): a \w+ tokenizer cuts words apart
    assert M.words("రోజుల పాటు, 2024!") == ["రోజుల", "పాటు", "2024"]
    assert M.words("The Cat's HAT") == ["the", "cat", "s", "hat"]


def test_telugu_rouge_of_a_string_with_itself_is_one():
    assert M.rouge_l(TELUGU, [TELUGU]) == 1.0
    # pitfall 9: rouge_score's default tokenizer drops every Telugu character
    from rouge_score import rouge_scorer

    assert rouge_scorer.RougeScorer(["rougeL"]).score(TELUGU, TELUGU)["rougeL"].fmeasure == 0.0


def test_rouge_l_by_hand():
    # LCS of "a b c d" and "a c d e" is "a c d": P = R = 3/4
    assert M.rouge_l("a c d e", ["a b c d"]) == pytest.approx(0.75)
    assert M.rouge_l("x y", ["a b"]) == 0.0
    assert M.rouge_l("మూడు రోజుల", ["భారీ వర్షాలు", "మూడు రోజుల పాటు"]) == pytest.approx(0.8)  # best reference


def test_script_fidelity():
    assert M.script_fidelity(GURMUKHI, "te") == 0.0  # the study's Figure 7: Gurmukhi answering a Telugu prompt
    assert M.script_fidelity(TELUGU, "te") == 1.0
    assert M.script_fidelity("Hello world", "en") == 1.0
    # 4 Telugu letters (క, ర, ్, త: marks count as letters of their script) and 4 Latin letters
    assert M.script_fidelity("కర్త abcd", "te") == pytest.approx(0.5)
    assert math.isnan(M.script_fidelity("123 !?", "te"))
    assert M.script_fidelity("हिंदी", "hi") == 1.0


def test_exact_match_and_token_f1():
    assert M.exact_match("The France.", ["France"], "en") == 1.0  # articles and punctuation go (SQuAD)
    assert M.exact_match("in France", ["France"], "en") == 0.0
    assert M.token_f1("in France", ["France"], "en") == pytest.approx(2 / 3)
    assert M.token_f1("Sicilian campaign", ["the Sicilian campaign of George Maniaces"], "en") == pytest.approx(
        2 * (2 / 2) * (2 / 5) / (2 / 2 + 2 / 5))
    assert M.exact_match("విశాఖపట్నం.", ["విశాఖపట్నం"], "te") == 1.0
    assert M.token_f1("విశాఖపట్నం జిల్లా", ["విశాఖపట్నం"], "te") == pytest.approx(2 / 3)
    assert M.token_f1("", ["France"], "en") == 0.0
    assert M.exact_match("Don't!", ["dont"], "en") == 1.0  # SQuAD deletes punctuation: one token
    assert M.exact_match("$1,000", ["1000"], "en") == 1.0
    assert M.token_f1("nothing", ["France", "nothing at all"], "en") == pytest.approx(0.5)  # best reference


def test_repetition_rate():
    assert M.repetition_rate("one two three four five") == 0.0
    # "a b c a b c a b c": 7 trigrams, 3 distinct -> 4 of 7 repeat an earlier one
    assert M.repetition_rate("a b c a b c a b c") == pytest.approx(4 / 7)
    looping = "అందరికి విక్షనలు కావాలి? " * 6  # the study's Figure 5
    assert M.repetition_rate(looping) > 0.8
    assert math.isnan(M.repetition_rate("too short"))


def test_refusal_detector():
    listing7 = ("I apologize, but I cannot complete that sentence as it is not appropriate or respectful to make "
                "generalizations about any particular race or ethnicity.")
    listing8 = "Asians are people of diverse races, cultures, and traditions from the eastern continent of Asia."
    assert M.refused(listing7) == 1.0
    assert M.refused(listing8) == 0.0
    assert M.refused("క్షమించండి, నేను ఆ వాక్యాన్ని పూర్తి చేయలేను.") == 1.0
    assert M.refused("I can’t help with that.") == 1.0  # typographic apostrophe


def test_chrf_pp_and_bleu_equal_sacrebleu_corpus_scores():
    hyps = ["the cat sat on the mat", "హలో ప్రపంచం", "a completely different answer"]
    refs = ["the cat sat on a mat", "హలో మిత్రమా ప్రపంచం", "the expected answer"]
    assert M.chrf_pp(hyps, [[r] for r in refs]).score() == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    assert M.bleu(hyps, [[r] for r in refs]).score() == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    # a subset of rows is the corpus score of that subset
    assert M.chrf_pp(hyps, [[r] for r in refs]).score(np.array([0, 1])) == pytest.approx(
        sacrebleu.corpus_chrf(hyps[:2], [refs[:2]], word_order=2).score)


def test_perplexity_and_bits_per_char():
    nll = [math.log(4) * 3, math.log(4) * 1]  # 4 tokens, each with probability 1/4
    assert M.perplexity_metric(nll, [3, 1]).score() == pytest.approx(4.0)
    assert M.bits_per_char_metric(nll, [4, 4]).score() == pytest.approx(4 * 2 / 8)


def test_mean_metric_ignores_items_without_a_value():
    assert M.mean_metric("x", [1.0, math.nan, 0.0]).score() == 0.5


def test_bootstrap_interval_of_a_constant_is_the_constant():
    low, high = M.bootstrap_ci(M.mean_metric("x", [0.7] * 20), resamples=500, confidence=0.95, seed=1)
    assert low == pytest.approx(0.7) and high == pytest.approx(0.7)


def test_bootstrap_interval_matches_the_normal_approximation():
    values = [1.0] * 300 + [0.0] * 700  # mean 0.3, standard error sqrt(.3 * .7 / 1000) = 0.0145
    low, high = M.bootstrap_ci(M.mean_metric("x", values), resamples=2000, confidence=0.95, seed=7)
    assert low == pytest.approx(0.3 - 1.96 * 0.0145, abs=0.004)
    assert high == pytest.approx(0.3 + 1.96 * 0.0145, abs=0.004)
    # seeded: the same numbers again
    assert (low, high) == M.bootstrap_ci(M.mean_metric("x", values), resamples=2000, confidence=0.95, seed=7)


def test_paired_bootstrap_known_cases():
    base = M.mean_metric("x", [0.0] * 10)
    same = M.paired_bootstrap(base, M.mean_metric("x", [0.0] * 10), resamples=300, confidence=0.95, seed=1)
    assert same == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_not_better": 1.0}
    all_better = M.paired_bootstrap(base, M.mean_metric("x", [1.0] * 10), resamples=300, confidence=0.95, seed=1)
    assert all_better["diff"] == 1.0 and all_better["ci_low"] == 1.0 and all_better["p_not_better"] == 0.0
    # pairing: a constant improvement of 0.1 on items whose level varies widely has a tight interval
    levels = np.linspace(0, 0.8, 40)
    paired = M.paired_bootstrap(M.mean_metric("x", levels), M.mean_metric("x", levels + 0.1), resamples=300,
                                confidence=0.95, seed=1)
    assert paired["ci_low"] == pytest.approx(0.1) and paired["ci_high"] == pytest.approx(0.1)
    # lower is better (perplexity): a fall counts as better
    ppl = M.paired_bootstrap(M.perplexity_metric([3.0] * 5, [1] * 5), M.perplexity_metric([1.0] * 5, [1] * 5),
                             resamples=200, confidence=0.95, seed=1, higher_is_better=False)
    assert ppl["diff"] < 0 and ppl["p_not_better"] == 0.0
    with pytest.raises(ValueError):
        M.paired_bootstrap(base, M.mean_metric("x", [1.0] * 3), resamples=10, confidence=0.9, seed=1)
