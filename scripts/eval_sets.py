import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.evaluation.sets import build_sets  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

i, p = snakemake.input, snakemake.params
spec = p.spec
with logged(snakemake.log[0]) as log:
    summary = build_sets(
        out_dir=Path(snakemake.output[0]),
        lang=spec["lang"],
        instructions=spec["instructions"],
        max_candidates=spec["max_candidates"],
        seed=spec["seed"],
        embedded_root=Path(p.root) if spec["embedded"] else None,
        samanantar_dir=Path(i.samanantar) if spec["samanantar_test"] else None,
        probes=Path(i.probes) if spec["study_probes"] else None,
        hub=spec["hub"],
        hub_max_rows=spec["hub_max_rows"],
    )
    log.info("evaluation sets: %d of %d items written in their seeded order: %s", summary["items_selected"],
             summary["items_available"], summary["sets"])
