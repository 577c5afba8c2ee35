import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import pandas as pd  # noqa: E402

from telugu_llm.atomic import atomic_file  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import vocab_curve_figure  # noqa: E402
from telugu_llm.vocab.compare import CURVE_COLUMNS, curve  # noqa: E402
from telugu_llm.vocab.extend import tokenizer_kind  # noqa: E402
from telugu_llm.vocab.learn import learned_file  # noqa: E402
from telugu_llm.vocab.text import samanantar_sentences  # noqa: E402

p, i = snakemake.params, snakemake.input
with logged(snakemake.log[0]) as log:
    test = Path(i.shards) / "test"
    test_te, test_en = samanantar_sentences(test), samanantar_sentences(test, "src")
    rows = []
    for name, ext in sorted(p.tokenizers.items()):
        base_json = json.loads((Path(i.get(f"base_{ext['base_tokenizer']}")) / "tokenizer.json").read_text(encoding="utf-8"))
        key = f"vocab.curve ({name})"
        learned = json.loads(learned_file(i.learned, base_json, tokenizer_kind(base_json, key)).read_text(encoding="utf-8"))
        extended = Path(i.get(f"extended_{name}"))
        built = {ext["pieces"]: (json.loads((extended / "tokenizer.json").read_text(encoding="utf-8")),
                                 json.loads((extended / "source.json").read_text())["extension"]["added"])}
        rows += curve(name=name, base_name=ext["base_tokenizer"], base_json=base_json, learned=learned,
                      sizes=sorted({*p.sizes, ext["pieces"]}), lang=p.lang, test_te=test_te, test_en=test_en, key=key,
                      built=built)
        log.info("%s: %s", name, [(r["pieces"], r["premium"]) for r in rows if r["tokenizer"] == name])
    table = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    with atomic_file(Path(snakemake.output.table)) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    vocab_curve_figure(table, Path(snakemake.output.figure))
