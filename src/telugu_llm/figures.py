"""Figures for the report (seaborn). No Telugu text goes into a figure: matplotlib does not shape
Indic scripts (pitfalls, item 12); labels use Latin script and the HTML shows the text itself."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

# PNG metadata without the matplotlib version line, so equal figures are equal files
_PNG_METADATA = {"Software": None}


def data_lengths_figure(samanantar: pd.DataFrame, guanaco: pd.DataFrame, language: str, out_png: Path) -> None:
    """Left: characters per sentence, English vs the Indic side. Right: characters per Guanaco
    conversation by language (the six most frequent)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if len(samanantar):
        long = pd.concat([
            pd.DataFrame({"characters": samanantar["src_chars"], "side": "English"}),
            pd.DataFrame({"characters": samanantar["tgt_chars"], "side": language}),
        ], ignore_index=True)
        sns.histplot(long, x="characters", hue="side", element="step", stat="count", ax=axes[0], log_scale=(True, False))
    axes[0].set_title("Samanantar: characters per sentence")
    if len(guanaco):
        top = guanaco["lang"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index[:6]
        sub = guanaco[guanaco["lang"].isin(top)]
        sns.boxplot(sub, x="lang", y="chars", order=list(top), ax=axes[1], log_scale=True)
    axes[1].set_title("Guanaco: characters per conversation")
    axes[1].set_ylabel("characters")
    for axis in (axes[0].xaxis, axes[1].yaxis):
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        axis.set_minor_formatter(ticker.NullFormatter())
    axes[1].set_xlabel("language (py3langid)")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)
