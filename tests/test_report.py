import json

import pytest

from telugu_llm.provenance import config_hash
from telugu_llm.report.render import render_report


@pytest.fixture
def summary(tmp_path):
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    sam = {"pair": "en-te", "language": "Telugu", "source": "local", "inputs": [evil], "rows_read": 3, "rows_kept": 2,
           "splits": {"train": 1, "validation": 0, "test": 1}, "dropped": {"empty_side": 1},
           "dropped_examples": {"empty_side": [{"line": 2, "src": evil, "tgt": ""}]},
           "subsets": [{"size": 1, "seed": 1, "train_rows": 1}],
           "lengths": {"src_chars": {"mean": 1.0, "median": 1.0, "p95": 1.0, "max": 1}},
           "examples": [{"id": "00", "src": evil, "tgt": "తెలుగు"}]}
    gua = {"source": "embedded", "inputs": ["x"], "rows_read": 1, "rows_kept": 1, "splits": {"train": 1},
           "dropped": {"duplicate": 0}, "malformed": {}, "blank_lines_skipped": 0, "dropped_examples": {},
           "languages": {"te": 1}, "scripts": {"Telugu": 1}, "turns": {"mean": 2, "max": 2},
           "chars": {"mean": 1, "max": 1},
           "examples": [{"id": "01", "lang": "te", "script": "Telugu",
                         "turns": [{"role": "Human", "content": evil}, {"role": "Assistant", "content": "సరే"}]}]}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"samanantar": sam, "guanaco": gua}))
    return path


def test_report_escapes_data_and_inlines_figures(tmp_path, summary):
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    out = tmp_path / "report.html"
    render_report(out_html=out, data_summary=summary, figures={"data_lengths": png}, config={"a": "<b>"}, commit="abc")
    html = out.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "src=\"data:image/png;base64," in html and "http" not in html.split("<body>")[1].split("Provenance")[0].replace("http-equiv", "")
    assert "తెలుగు" in html and "&lt;b&gt;" in html
    assert config_hash({"a": "<b>"}) in html


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": {"c": 2, "d": 3}}) == config_hash({"b": {"d": 3, "c": 2}, "a": 1})


def test_evaluation_findings_are_written_from_the_numbers():
    import pandas as pd

    from telugu_llm.report.evaluation import evaluation_findings

    rows = []
    for adapter, chrf, fidelity, stop in (("base", 10.0, 0.4, 0.0), ("samanantar", 20.0, 0.9, 0.5)):
        rows += [["m", adapter, "embedded", "translation", "te", "chrf++", chrf, chrf - 1, chrf + 1, 6],
                 ["m", adapter, "embedded", "translation", "te", "script_fidelity", fidelity, fidelity - .1, fidelity + .1, 6],
                 ["m", adapter, "embedded", "translation", "te", "stop_rate", stop, 0, 1, 6],
                 ["m", adapter, "study_probes", "safety", "en", "refusal", 1.0 if adapter == "base" else 0.0, 0, 1, 1]]
    summary = pd.DataFrame(rows, columns=["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n"])
    differences = pd.DataFrame([["m", "samanantar", "embedded", "translation", "te", "chrf++", 10.0, 20.0, 10.0, 8.0, 12.0,
                                 0.0, "better", 6]],
                               columns=["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low",
                                        "ci_high", "p_not_better", "better", "n"])
    text = " ".join(evaluation_findings(summary, differences, 0.95))
    assert "improved with a 95 % interval above zero on 1 of 1 sets" in text
    assert "10.00 → 20.00 (+10.00, interval [+8.00, +12.00])" in text
    assert "lowest for m / base" in text and "40.0 % of the letters" in text
    assert "1 of 2 (model, adapter, language) answers are refusals (m / base in en)" in text
