"""The vocabulary stage's inputs (issue 22, defects 6 and 10): a line longer than the learner takes
was dropped by SentencePiece without a word (after 155 s and 8.9 GB, `used: 1`), and a `file`
source was never checked for the language (/etc/passwd was learned from as Telugu)."""

import pytest

from telugu_llm.errors import InputError
from telugu_llm.vocab.learn import MAX_SENTENCE_BYTES
from telugu_llm.vocab.text import learning_text

TE = ["ఒకటి రెండు", "మూడు నాలుగు", "ఐదు ఆరు", "ఏడు ఎనిమిది"]


def test_a_line_longer_than_the_learner_takes_is_left_out_counted_and_named():
    long_line = "అ" * (MAX_SENTENCE_BYTES // 3 + 1)  # 3 bytes each in UTF-8: one byte over
    text = learning_text({"file": [TE[0], TE[1], long_line, TE[2], long_line]}, held_out=[], lang="te",
                         file_path="te.txt")
    assert text.sentences == TE[:3]
    assert text.counts["file"] == {"read": 5, "empty": 0, "held_out": 0, "used": 3, "too_long": 2, "too_long_first_line": 3}


def test_a_file_that_is_not_in_the_language_is_one_error_naming_it():
    passwd = ["root:x:0:0:root:/root:/bin/bash", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin", "bin:x:2:2:bin:/bin"]
    with pytest.raises(InputError, match=r"^vocab.text_path: /etc/passwd: 3 of 3 lines have no Telugu letter; is it text "
                                         r"in the language \(samanantar.lang: te\)\?"):
        learning_text({"file": passwd}, held_out=[], lang="te", file_path="/etc/passwd")


def test_a_few_lines_of_another_script_in_a_file_are_left_out_and_counted():
    text = learning_text({"samanantar": ["plain English is Samanantar's to filter"], "file": [*TE, "an English line"]},
                         held_out=[], lang="te", file_path="te.txt")
    assert text.sentences == ["plain English is Samanantar's to filter", *TE]
    assert text.counts["file"] == {"read": 5, "empty": 0, "held_out": 0, "used": 4, "not_telugu": 1}
    assert text.counts["samanantar"] == {"read": 1, "empty": 0, "held_out": 0, "used": 1}
