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

from ..tasks import HEADLINE  # noqa: E402

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


def fertility_figure(summary: pd.DataFrame, out_png: Path) -> None:
    """Left: the premium (tokens relative to English on the same corpus) per tokenizer. Right:
    fertility (tokens per word) per tokenizer and language."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    other = summary[summary["lang"] != "en"]
    sns.barplot(other, x="tokenizer", y="premium", hue="corpus", ax=axes[0])
    axes[0].axhline(1.0, color="0.3", lw=1, ls="--")
    axes[0].set_title("Premium: tokens relative to English")
    axes[0].set_ylabel("tokens / English tokens")
    sns.barplot(summary, x="tokenizer", y="fertility", hue="lang", ax=axes[1], errorbar=None)
    axes[1].set_title("Fertility: tokens per word")
    axes[1].set_ylabel("tokens per whitespace-separated word")
    for ax in axes:
        ax.set_xlabel("tokenizer")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)


def tokens_per_sentence_figure(sentences: pd.DataFrame, out_png: Path) -> None:
    """Tokens per sentence, per tokenizer and language, on every corpus."""
    sns.set_theme(style="whitegrid", context="notebook")
    corpora = sorted(sentences["corpus"].unique())
    fig, axes = plt.subplots(1, len(corpora), figsize=(5.5 * len(corpora), 4), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        sub = sentences[sentences["corpus"] == corpus]
        sns.boxplot(sub, x="tokenizer", y="tokens", hue="lang", ax=ax, fliersize=2)
        ax.set_title(f"{corpus}: tokens per sentence")
        ax.set_ylabel("tokens (no special tokens)")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)


def training_curves_figure(curves: pd.DataFrame, column: str, ylabel: str, title: str, out_png: Path,
                           eval_column: str | None = None) -> None:
    """One line per run against the optimizer step (the study's Figures 10 and 11)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(10, 4))
    train = curves.dropna(subset=[column])
    sns.lineplot(train, x="step", y=column, hue="run", marker="o", ax=ax)
    if eval_column:
        evals = curves.dropna(subset=[eval_column])
        sns.lineplot(evals, x="step", y=eval_column, hue="run", ax=ax, linestyle="--", marker="s", legend=False)
        ax.text(0.99, 0.97, "solid: training loss; dashed: validation loss", transform=ax.transAxes, ha="right",
                va="top", fontsize=8, color="0.3")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("optimizer step")
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)


def _own_items(summary: pd.DataFrame) -> pd.DataFrame:
    """Each run's values on its own items (summary.csv's `items`), not the rows repeated on the items common to all runs."""
    return summary[summary["items"] == "own"] if "items" in summary else summary


def evaluation_figure(summary: pd.DataFrame, out_png: Path, confidence: float) -> None:
    """Each set's headline metric and its script fidelity, per model and adapter on its own items,
    with the jackknife-t interval as an error bar (one panel per set, task, language and metric)."""
    sns.set_theme(style="whitegrid", context="notebook")
    summary = _own_items(summary)
    rows = summary[((summary["metric"] == summary["task"].map(HEADLINE))
                    | ((summary["metric"] == "script_fidelity") & (summary["lang"] != "en")))
                   & ~summary["set"].str.startswith("study_probes")]
    panels = sorted({(r.set, r.task, r.lang, r.metric) for r in rows.itertuples()},
                    key=lambda p: (p[3] == "script_fidelity", p))
    cols = 4
    nrows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 2.6 * nrows), squeeze=False)
    adapters = sorted(summary["adapter"].unique(), key=lambda a: (a != "base", a))
    palette = dict(zip(adapters, sns.color_palette("colorblind", len(adapters))))
    models = sorted(summary["model"].unique())
    for ax, (set_name, task, lang, metric) in zip(axes.flat, panels):
        part = rows[(rows["set"] == set_name) & (rows["task"] == task) & (rows["lang"] == lang) & (rows["metric"] == metric)]
        for j, adapter in enumerate(adapters):
            sub = part[part["adapter"] == adapter].set_index("model").reindex(models)
            x = [i + (j - (len(adapters) - 1) / 2) * 0.22 for i in range(len(models))]
            low = (sub["value"] - sub["ci_low"]).clip(lower=0)
            high = (sub["ci_high"] - sub["value"]).clip(lower=0)
            ax.errorbar(x, sub["value"], yerr=[low, high], fmt="o", color=palette[adapter], capsize=3,
                        label=adapter)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, fontsize=8)
        ax.set_title(f"{set_name} {task} ({lang}): {metric}", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, title="adapter", loc="upper right", frameon=False)
    fig.suptitle(f"Evaluation: headline metric, and script fidelity of non-English answers, {100 * confidence:g} % "
                 "jackknife-t intervals", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.93, 0.97))
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100, metadata=_PNG_METADATA)
    plt.close(fig)


def training_size_figure(summary: pd.DataFrame, out_png: Path, confidence: float) -> None:
    """The study's claim that relevance grows with the training data, measured: each set's headline
    metric against the number of Samanantar training pairs (log scale), one line per model, recipe
    and seed with its interval, and each base model's value as a dashed line. With one size only,
    the figure says that there is no curve to draw."""
    sns.set_theme(style="whitegrid", context="notebook")
    summary = _own_items(summary)
    headline = (summary["metric"] == summary["task"].map(HEADLINE)) & ~summary["set"].str.startswith("study_probes")
    sized = summary[headline & (summary["dataset"] == "samanantar")
                    & summary["subset"].astype(str).str.fullmatch(r"[0-9]+")].copy()
    base = summary[headline & (summary["adapter"] == "base")]
    sized["pairs"] = sized["subset"].astype(int)
    sized["seed"] = sized["seed"].astype("Int64")  # read back as float where the base rows have none
    panels = sorted({(r.set, r.task, r.lang, r.metric) for r in sized.itertuples()})
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    if sized["pairs"].nunique() < 2:
        fig, ax = plt.subplots(figsize=(6, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, "One Samanantar training-set size only (train.subsets): no curve to draw.", ha="center",
                va="center")
        fig.savefig(out_png, dpi=100, metadata=_PNG_METADATA)
        plt.close(fig)
        return
    cols = 3
    nrows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3 * nrows), squeeze=False)
    series = sorted({(r.model, r.recipe, r.seed) for r in sized.itertuples()})
    palette = dict(zip(series, sns.color_palette("colorblind", len(series))))
    for ax, (set_name, task, lang, metric) in zip(axes.flat, panels):
        part = sized[(sized["set"] == set_name) & (sized["task"] == task) & (sized["lang"] == lang)
                     & (sized["metric"] == metric)]
        for key in series:
            line = part[(part["model"] == key[0]) & (part["recipe"] == key[1]) & (part["seed"] == key[2])]
            line = line.sort_values("pairs")
            if line.empty:
                continue
            low = (line["value"] - line["ci_low"]).clip(lower=0)
            high = (line["ci_high"] - line["value"]).clip(lower=0)
            ax.errorbar(line["pairs"], line["value"], yerr=[low, high], fmt="o-", color=palette[key], capsize=3,
                        label=f"{key[0]} / {key[1]} / seed {key[2]}")
        for key in series:
            b = base[(base["model"] == key[0]) & (base["set"] == set_name) & (base["task"] == task)
                     & (base["lang"] == lang) & (base["metric"] == metric)]
            if len(b):
                ax.axhline(b["value"].iloc[0], color=palette[key], linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("Samanantar training pairs")
        ax.set_title(f"{set_name} {task} ({lang}): {metric}", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", frameon=False, fontsize=8)
    fig.suptitle(f"Training-set size: headline metric against training pairs, {100 * confidence:g} % jackknife-t "
                 "intervals (dashed: the base model)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.8, 0.95))
    fig.savefig(out_png, dpi=100, metadata=_PNG_METADATA)
    plt.close(fig)


def vocab_curve_figure(curve: pd.DataFrame, out_png: Path) -> None:
    """The premium (left) and fertility (right) of each extended tokenizer against the number of
    pieces learned (0: the base), on the held-out Samanantar test split; sizes the text could not
    support are absent."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    shown = curve.dropna(subset=["premium"])
    for axis, column, title in ((axes[0], "premium", "Premium: tokens relative to English"),
                                (axes[1], "fertility", "Fertility: tokens per word")):
        if len(shown):
            sns.lineplot(shown, x="pieces", y=column, hue="tokenizer", marker="o", ax=axis)
        axis.set_title(title)
        axis.set_xlabel("pieces learned (0: the base tokenizer)")
    axes[0].axhline(1.0, color="0.3", lw=1, ls="--")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)
