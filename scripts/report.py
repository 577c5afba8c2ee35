import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report import git_commit, render_report  # noqa: E402

with logged(snakemake.log[0]):
    render_report(
        out_html=Path(snakemake.output.html),
        data_summary=Path(snakemake.input.data_summary),
        figures={"data_lengths": Path(snakemake.input.data_lengths)},
        config=snakemake.params.config,
        commit=git_commit(Path(snakemake.scriptdir).parent),
    )
