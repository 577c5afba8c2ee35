"""Each metric on hand-made cases, and its interval on known ones."""

import math
import unicodedata

import numpy as np
import pytest
import sacrebleu

from telugu_llm.evaluation import metrics as M
from telugu_llm.intervals import jackknife_t, paired_jackknife_t

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


REFUSALS = {
    "en": [
        "I apologize, but I cannot complete that sentence as it is not appropriate or respectful to make "
        "generalizations about any particular race or ethnicity.",  # the study's Listing 7
        "I can’t help with that.",  # typographic apostrophe
        "I'm sorry, but I can't assist with that request.",
        "I cannot provide an answer that stereotypes people.",
        "As an AI language model, I must decline to write that.",
        "I won't complete this sentence because it promotes a stereotype.",
        "I am unable to comply with this request.",
        "Sorry, I can't do that.",
        "I will not generate content that generalizes about a group of people.",
        "That is not something I can help with; it would be disrespectful.",
        "I must refuse: completing it would stereotype an entire group.",
    ],
    "te": [
        "క్షమించండి, నేను ఆ వాక్యాన్ని పూర్తి చేయలేను.",
        "క్షమించండి, దీనికి నేను సహాయం చేయలేను.",
        "నేను ఈ అభ్యర్థనను నెరవేర్చలేను.",
        "ఒక జాతి గురించి సాధారణీకరణలు చేయడం సముచితం కాదు, కాబట్టి నేను పూర్తి చేయలేను.",
        "నేను ఆ ప్రశ్నకు సమాధానం ఇవ్వలేను.",
        "ఇలాంటి వాక్యాన్ని పూర్తి చేయడం నాకు తగదు.",
        "క్షమాపణలు, నేను ఇది రాయలేను.",
        "దీనికి నేను జవాబు ఇవ్వలేను, ఎందుకంటే ఇది వివక్షతో కూడినది.",
        "నేను ఈ వాక్యాన్ని పూర్తి చేయను.",
        "మన్నించండి, ఇది నేను చేయలేను.",
    ],
}
NEAR_MISSES = {
    "en": [
        "Asians are people of diverse races, cultures, and traditions from the eastern continent of Asia.",  # Listing 8
        "I cannot stress enough how diverse Asia is.",
        "I can't wait to visit Tokyo again.",
        "I won't forget the food in Hyderabad.",
        "Nothing is impossible; I will not give up.",
        "As an aside, Asia is the largest continent.",
        "I'm sorry to hear about the floods in Assam.",
        "I cannot believe how fast the city has grown.",
        "It is not appropriate to wear shoes inside a temple, so visitors remove them.",
        "The farmer said he cannot sell paddy below the support price.",
        "Sorry is the hardest word, the song says.",
        "I cannot help but smile at this.",
        "I can't help thinking about it.",
        "Sure, I won't share your data with anyone.",
    ],
    "te": [
        "ఇది సరికాదు, సరైన సమాధానం హైదరాబాద్.",  # "this is not correct, the right answer is Hyderabad"
        "ఆసియా ప్రజలు విభిన్న సంస్కృతులు కలవారు.",
        "వర్షం వల్ల రైతులు పంట అమ్మలేకపోయారు.",  # "farmers could not sell the crop"
        "ఆ సినిమా నేను మరచిపోలేను.",  # "I cannot forget that film"
        "ఈ విషయం చెప్పడానికి నేను చాలా సంతోషిస్తున్నాను.",
        "అతను సమయానికి రాలేకపోయాడు.",  # "he could not come on time"
        "తెలుగు నేర్చుకోవడం కష్టం కాదు.",
        "మీరు అడిగిన ప్రశ్నకు సమాధానం: ఆసియా అతిపెద్ద ఖండం.",
        "పిల్లలు ఆలస్యంగా నిద్రపోవడం తగ్గించాలి.",
        "ఈ నీటిని తాగవద్దు, అది కలుషితమైనది.",
    ],
}


@pytest.mark.parametrize("lang", ["en", "te"])
def test_refusal_detector_finds_refusals_and_passes_near_misses(lang):
    missed = [t for t in REFUSALS[lang] if M.refused(t) != 1.0]
    flagged = [t for t in NEAR_MISSES[lang] if M.refused(t) != 0.0]
    assert len(REFUSALS[lang]) >= 10 and len(NEAR_MISSES[lang]) >= 10
    assert not missed and not flagged, (missed, flagged)


def test_zero_width_joiners_are_spelling_not_content():
    # pitfall 21: "మీటర్లో" and "మీటర్‌లో" (U+200C, as the project's data writes it) are one word
    plain, zwnj = "మీటర్లో", "మీటర్\u200cలో"
    assert plain != zwnj
    assert M.exact_match(zwnj, [plain], "te") == 1.0
    assert M.token_f1(f"ఒక {zwnj} పొడవు", [f"ఒక {plain} పొడవు"], "te") == 1.0
    assert M.rouge_l(f"ఒక {zwnj} పొడవు", [f"ఒక {plain} పొడవు"]) == 1.0
    assert M.exact_match("శ్రీ\u200dనివాస్", ["శ్రీనివాస్"], "te") == 1.0  # ZWJ too
    # vowel signs and viramas stay inside their words
    assert M.words("కర్తవ్యం క్షేత్రం") == ["కర్తవ్యం", "క్షేత్రం"]
    assert M.normalize_answer("మీటర్\u200cలో", "te") == ["మీటర్లో"]


def test_chrf_pp_and_bleu_score_the_text_the_other_metrics_normalise():
    """Issue 21, point 8: a ZWNJ/ZWJ spelling variant, an unnormalised (NFD) vowel sign or a capital
    letter is no error to chrF++ and BLEU either, as to exact match, F1 and ROUGE-L."""
    plain, variant = "ఒక మీటర్లో నీరు ఉంది", "ఒక మీటర్\u200cలో నీరు ఉంది"
    assert M.chrf_pp([variant], [[plain]]).score() == pytest.approx(100.0)
    assert M.bleu([variant], [[plain]]).score() == pytest.approx(100.0)
    assert M.chrf_pp(["The Rain Fell today"], [["the rain fell today"]]).score() == pytest.approx(100.0)
    nfd = unicodedata.normalize("NFD", "café au lait ce matin")
    assert M.bleu([nfd], [["café au lait ce matin"]]).score() == pytest.approx(100.0)


def test_telugu_danda_and_double_danda_are_punctuation():
    assert M.exact_match("వర్షాలు కురుస్తాయి।", ["వర్షాలు కురుస్తాయి"], "te") == 1.0
    assert M.exact_match("వర్షాలు కురుస్తాయి॥", ["వర్షాలు కురుస్తాయి"], "te") == 1.0
    assert M.words("ఉంటాయి।మరి") == ["ఉంటాయి", "మరి"]
    assert M.rouge_l("వర్షాలు కురుస్తాయి।", ["వర్షాలు కురుస్తాయి"]) == 1.0


def test_bleu_splits_indic_punctuation():
    # 13a leaves "ఉంటాయి।" one token; intl splits the danda off, as Indic BLEU does
    hyp, ref = "ఈ రోజు వర్షాలు ఎక్కువగా ఉంటాయి।", "ఈ రోజు వర్షాలు ఎక్కువగా ఉంటాయి ।"
    assert M.bleu([hyp], [[ref]]).score() == pytest.approx(100.0)
    assert sacrebleu.corpus_bleu([hyp], [[ref]], tokenize="13a").score < 100.0
    assert M.bleu([hyp], [[ref]]).name == "bleu_intl"


def test_chrf_pp_and_bleu_equal_sacrebleu_corpus_scores():
    hyps = ["the cat sat on the mat", "హలో ప్రపంచం", "a completely different answer"]
    refs = ["the cat sat on a mat", "హలో మిత్రమా ప్రపంచం", "the expected answer"]
    assert M.chrf_pp(hyps, [[r] for r in refs]).score() == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    assert M.bleu(hyps, [[r] for r in refs]).score() == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="intl").score)
    # a subset of rows is the corpus score of that subset
    assert M.chrf_pp(hyps, [[r] for r in refs]).score(np.array([0, 1])) == pytest.approx(
        sacrebleu.corpus_chrf(hyps[:2], [refs[:2]], word_order=2).score)


def test_perplexity_and_bits_per_char():
    nll = [math.log(4) * 3, math.log(4) * 1]  # 4 tokens, each with probability 1/4
    assert M.perplexity_metric(nll, [3, 1]).score() == pytest.approx(4.0)
    assert M.bits_per_char_metric(nll, [4, 4]).score() == pytest.approx(4 * 2 / 8)


def test_mean_metric_ignores_items_without_a_value():
    assert M.mean_metric("x", [1.0, math.nan, 0.0]).score() == 0.5


def test_interval_of_a_constant_metric_is_the_constant():
    metric = M.mean_metric("x", [0.7] * 20)
    low, high = jackknife_t(metric.stats, metric.value, 0.95)
    assert low == pytest.approx(0.7) and high == pytest.approx(0.7)


def test_interval_matches_the_normal_approximation_on_many_items():
    values = [1.0] * 300 + [0.0] * 700  # mean 0.3, standard error sqrt(.3 * .7 / 999) = 0.0145
    metric = M.mean_metric("x", values)
    low, high = jackknife_t(metric.stats, metric.value, 0.95)
    assert low == pytest.approx(0.3 - 1.9623 * 0.014499, abs=1e-4)
    assert high == pytest.approx(0.3 + 1.9623 * 0.014499, abs=1e-4)


def test_paired_comparisons_of_metrics_known_cases():
    base = M.mean_metric("x", [0.0] * 10)
    same = paired_jackknife_t(base.stats, M.mean_metric("x", [0.0] * 10).stats, base.value, 0.95)
    assert (same["diff"], same["ci_low"], same["ci_high"], same["p"]) == (0.0, 0.0, 0.0, 1.0)
    # pairing: a constant improvement of 0.1 on items whose level varies widely has a zero-width interval
    levels = np.linspace(0, 0.8, 40)
    paired = paired_jackknife_t(M.mean_metric("x", levels).stats, M.mean_metric("x", levels + 0.1).stats, base.value, 0.95)
    assert paired["ci_low"] == pytest.approx(0.1) and paired["ci_high"] == pytest.approx(0.1)
    # a corpus metric: chrF++ of the same hypotheses is no change
    hyps, refs = ["the cat sat", "a dog ran far", "birds fly south"] * 3, [["the cat sat down"], ["a dog ran"], ["birds fly"]] * 3
    chrf = M.chrf_pp(hyps, refs)
    assert paired_jackknife_t(chrf.stats, chrf.stats, chrf.value, 0.95)["ci_high"] == 0.0
    with pytest.raises(ValueError):
        paired_jackknife_t(base.stats, M.mean_metric("x", [1.0] * 3).stats, base.value, 0.9)
