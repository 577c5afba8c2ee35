"""The report in a real browser (Debian's headless Chromium): every figure loads offline, and a model
output containing <script> shows as text and runs nothing."""

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.workflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAYLOAD = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'

# Runs on load: the images, the scripts in the DOM, and the text of the output cell with the payload.
CHECKER = """
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const cells = Array.from(document.querySelectorAll('table.gen td')).filter(td => td.textContent.includes('document.title="pwned"'));
  const out = document.createElement('pre');
  out.id = 'checker-result';
  out.textContent = JSON.stringify({
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    scripts: document.scripts.length,
    title: document.title,
    payload_cells: cells.length,
    payload_as_text: cells.some(td => td.textContent.includes('<script>')),
    telugu_cells: Array.from(document.querySelectorAll('td[lang=te]')).length,
  });
  document.body.appendChild(out);
});
"""


def render_in_chromium(html_path: Path, tmp_path: Path) -> dict:
    """Open a copy of the report whose CSP also admits the checker (by its hash, nothing else)."""
    html = html_path.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(CHECKER.encode()).digest()).decode()
    html, n = re.subn(r'(<meta http-equiv="Content-Security-Policy" content="[^"]*)"',
                      lambda m: f"{m.group(1)}; script-src 'sha256-{digest}'\"", html, count=1)
    assert n == 1, "the report has no Content-Security-Policy"
    tmp_path.mkdir(parents=True, exist_ok=True)
    page = tmp_path / "checked.html"
    page.write_text(html.replace("</body>", f"<script>{CHECKER}</script></body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="checker-result">(.*?)</pre>', result.stdout, re.S)
    assert match, f"the checker did not run; chromium said: {result.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
def test_report_opens_offline_with_every_figure_and_escaped_model_text(built_workflow, tmp_path):
    from telugu_llm.config import check_config
    from telugu_llm.report.render import render_report

    wf = built_workflow
    plain = render_in_chromium(wf / "results" / "report.html", tmp_path / "plain")
    assert plain["images"] >= 7 and plain["broken"] == []  # data, fertility x2, training x2, evaluation, size
    assert plain["scripts"] == 1  # the checker: the report itself has none
    assert plain["telugu_cells"] > 0

    # the same report, with a model output that is HTML and a script
    eval_dir = wf / "results" / "eval"
    generations = sorted(eval_dir.rglob("generations.parquet"))  # base runs and nested run paths alike
    copies = []
    for path in generations:
        copy = tmp_path / "eval" / path.relative_to(eval_dir)
        copy.parent.mkdir(parents=True)
        shutil.copy(path, copy)
        shutil.copy(path.with_name("metrics.json"), copy.with_name("metrics.json"))
        copies.append(copy)
    table = pq.read_table(copies[0])
    outputs = table.column("output").to_pylist()
    outputs[0] = PAYLOAD
    pq.write_table(table.set_column(table.schema.get_field_index("output"), "output", pa.array(outputs)), copies[0])
    import yaml

    results = wf / "results"
    figures = {name: results / "figures" / f"{name}.png" for name in
               ("data_lengths", "training_loss", "learning_rate", "evaluation")}
    figures.update(fertility=results / "figures" / "fertility.png",
                   tokens_per_sentence=results / "figures" / "tokens_per_sentence.png",
                   training_size=results / "figures" / "training_size.png")
    assert all(p.exists() for p in figures.values()), [p for p in figures.values() if not p.exists()]
    out = tmp_path / "report.html"
    config = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    check_config(config)  # fills in the defaults, as the workflow does
    render_report(out_html=out, data_summary=results / "data" / "summary.json", figures=figures,
                  config=config, commit="test",
                  fertility={"summary_csv": results / "fertility" / "summary.csv",
                             "costs_csv": results / "fertility" / "costs.csv",
                             "examples_json": results / "fertility" / "examples.json",
                             "corpora": config["fertility"]["corpora"]},
                  training_summary=results / "train" / "summary.csv",
                  evaluation={"summary_csv": results / "eval" / "summary.csv",
                              "differences_csv": results / "eval" / "differences.csv",
                              "coverage_csv": results / "eval" / "coverage.csv",
                              "generations": copies, "examples": 5, **config["intervals"]},
                  runs={"contrasts_csv": results / "eval" / "contrasts.csv", "seeds_csv": results / "eval" / "seeds.csv",
                        "training_summary_csv": results / "train" / "summary.csv", **config["intervals"]},
                  benchmark_root=results / "benchmarks")
    assert "&lt;script&gt;document.title" in out.read_text(encoding="utf-8")
    checked = render_in_chromium(out, tmp_path / "payload")
    assert checked["payload_cells"] == 1 and checked["payload_as_text"]
    assert checked["scripts"] == 1 and checked["title"] != "pwned"
    assert checked["broken"] == []
