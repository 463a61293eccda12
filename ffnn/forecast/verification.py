"""Forecast verification of the flare model, the way forecasters validate (Bloomfield et al. 2012,
ApJL 747, L41; Leka et al. 2019, ApJS 243, 36).

Records of one region are strongly correlated from one 12-minute step to the next, so the
model is never tested on a region it was fitted on at the same time:

* :func:`time_split`: fit on records whose label window closes before a date, test on the
  records from that date on (a forecaster's situation);
* :func:`cross_validate`: repeated stratified k-fold cross-validation grouped by HARP (no
  region on both sides), reported as mean ± standard deviation over the folds.

Each test is scored against climatology (the training base rate forecast for every record)
by :func:`skill_scores`: TSS = tpr - fpr (``balanced_accuracy_score(adjusted=True)``), HSS
(``cohen_kappa_score``), Brier score and Brier skill score BSS = 1 - BS / BS_clim, ROC AUC,
and the calibration: mean forecast against event rate and the reliability term of the
Brier score (Murphy 1973). :func:`reliability_figure` and :func:`roc_figure` draw them.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, cohen_kappa_score, confusion_matrix, \
    roc_auc_score, roc_curve

from ffnn.forecast.classify import ClassifySettings, FeatureWarning, FlareModel, InsufficientDataError, check_sufficient, \
    fit_model, grouped_folds, split_timestamp
from ffnn.util.files import save_figure
from ffnn.forecast.labels import window_timedelta

log = logging.getLogger(__name__)

#: Scores of :func:`skill_scores` that the skill table reports (mean ± std over folds).
SCORES = ("tss", "hss", "bss", "auc", "brier", "reliability", "mean_probability", "event_rate")
RELIABILITY_BINS = 10
#: Fewest forecasts a probability bin needs to be drawn in the reliability diagram.
MIN_BIN_COUNT = 10


def reliability_bins(y: np.ndarray, probability: np.ndarray, n_bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Forecasts binned by probability (``n_bins`` equal bins on [0, 1]).

    Returns one row per non-empty bin: ``lower``, ``upper``, ``n``, ``mean_probability``,
    ``observed_frequency`` (the points of a reliability diagram).
    """
    y = np.asarray(y, dtype=float)
    probability = np.asarray(probability, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": index, "p": probability, "y": y})
    grouped = frame.groupby("bin").agg(n=("y", "size"), mean_probability=("p", "mean"), observed_frequency=("y", "mean"))
    grouped.insert(0, "upper", edges[grouped.index + 1])
    grouped.insert(0, "lower", edges[grouped.index])
    return grouped.reset_index(drop=True)


def skill_scores(y: np.ndarray, probability: np.ndarray, threshold: float, base_rate: float) -> dict[str, float]:
    """Verification scores of probabilistic flare forecasts.

    Parameters
    ----------
    y : array_like of int
        The events, 0 or 1, shape (n,).
    probability : array_like of float
        The forecast probabilities, shape (n,).
    threshold : float
        Forecast "yes" when probability >= threshold (for TSS, HSS and the contingency
        table).
    base_rate : float
        The climatology of the training rows: the reference of the Brier skill score.

    Returns
    -------
    dict of str to float
        ``tss``, ``hss``, ``brier``, ``brier_climatology``, ``bss``, ``auc``,
        ``reliability``, ``mean_probability``, ``event_rate``, ``threshold``, and the
        counts ``n``, ``n_positive``, ``tp``, ``fn``, ``fp``, ``tn``. TSS, HSS and AUC are
        NaN when ``y`` holds one class.

    Notes
    -----
    TSS = TP/(TP + FN) - FP/(FP + TN) (Hanssen & Kuipers 1965; Bloomfield et al. 2012,
    ApJL 747, L41); HSS = 2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))
    (Heidke 1926); BS = mean((p - y)^2), BSS = 1 - BS / BS_clim with BS_clim =
    mean((base_rate - y)^2) (Brier 1950); ``reliability`` is Murphy's (1973) term
    sum_k n_k (p_k - o_k)^2 / N over :func:`reliability_bins` (0 for calibrated
    forecasts).
    """
    y = np.asarray(y, dtype=int)
    probability = np.asarray(probability, dtype=float)
    predicted = (probability >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    both = len(np.unique(y)) == 2
    brier = brier_score_loss(y, probability, labels=[0, 1])
    brier_clim = brier_score_loss(y, np.full(len(y), base_rate), labels=[0, 1])
    bins = reliability_bins(y, probability)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class in y: the scores below are undefined
        tss = balanced_accuracy_score(y, predicted, adjusted=True) if both else float("nan")
        hss = cohen_kappa_score(y, predicted) if both else float("nan")
    return {
        "n": int(len(y)), "n_positive": int(y.sum()), "event_rate": float(y.mean()),
        "tss": float(tss), "hss": float(hss),
        "brier": float(brier), "brier_climatology": brier_clim,
        "bss": float(1.0 - brier / brier_clim) if brier_clim > 0 else float("nan"),
        "auc": float(roc_auc_score(y, probability)) if both else float("nan"),
        "mean_probability": float(probability.mean()),
        "reliability": float((bins["n"] * (bins["mean_probability"] - bins["observed_frequency"]) ** 2).sum() / len(y)),
        "threshold": float(threshold), "tp": tp, "fn": fn, "fp": fp, "tn": tn,
    }


def climatology_scores(y: np.ndarray, base_rate: float) -> dict[str, float]:
    """:func:`skill_scores` of the climatology forecast: ``base_rate`` for every record."""
    return skill_scores(y, np.full(len(y), base_rate), base_rate, base_rate)


@dataclass
class Evaluation:
    """The out-of-sample forecasts of one evaluation and their scores.

    ``predictions``: index of the scored rows, ``probability``, ``predicted``, ``fold``
    (and ``repeat`` for cross-validation); ``scores``: one row per test (fold), with the
    model's and climatology's scores (columns prefixed ``clim_``).
    """

    name: str
    predictions: pd.DataFrame
    scores: pd.DataFrame

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and standard deviation over the folds of every score, model and climatology."""
        out = {}
        for forecast, prefix in (("model", ""), ("climatology", "clim_")):
            cols = [prefix + s for s in SCORES] + ([prefix + "threshold"] if not prefix else [])
            frame = self.scores[cols]
            out[forecast] = {"n_folds": int(len(frame)), "n": int(self.scores["n"].sum() / max(1, self._repeats())),
                             **{c[len(prefix):]: float(frame[c].mean()) for c in cols},
                             **{c[len(prefix):] + "_std": float(frame[c].std(ddof=1)) if len(frame) > 1 else float("nan")
                                for c in cols}}
        return out

    def _repeats(self) -> int:
        return int(self.scores["repeat"].nunique()) if "repeat" in self.scores.columns else 1


def _score_fold(model: FlareModel, table: pd.DataFrame, y: pd.Series) -> tuple[np.ndarray, dict[str, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeatureWarning)
        probability = model.predict_proba(table)
    scores = skill_scores(y.to_numpy(), probability, model.threshold, model.base_rate)
    scores.update({f"clim_{k}": v for k, v in climatology_scores(y.to_numpy(), model.base_rate).items()})
    return probability, scores


def time_split_masks(times: pd.Series, split_date: str, window: str) -> tuple[pd.Series, pd.Series]:
    """Training and test rows of a time split at ``split_date`` (UTC).

    Training: records whose label window closes by the date (time + window <= date), so no
    training label looks past it; test: records at or after the date.
    """
    date = split_timestamp(split_date)
    train = (times + window_timedelta(window)) <= date
    test = times >= date
    return train.fillna(False), test.fillna(False)


def time_split(table: pd.DataFrame, y: pd.Series, groups: pd.Series, times: pd.Series,
               settings: ClassifySettings) -> Evaluation:
    """Fit on the records before a date and score those from it on (a forecaster's test).

    Parameters
    ----------
    table : `pandas.DataFrame`
        Raw keyword or summary table rows (``ffnn sharp-keywords``, ``summary.tsv``).
    y : `pandas.Series`
        0/1 labels aligned with ``table`` (:func:`ffnn.forecast.labels.flare_labels`).
    groups : `pandas.Series`
        Region (HARPNUM) of each row: no region is on both sides of a split.
    times : `pandas.Series`
        Record times (UTC) aligned with ``table``.
    settings : `ffnn.forecast.classify.ClassifySettings`
        The model's settings; ``split_date`` sets the split and ``window`` the label
        window (training rows are those whose window closes by the date).

    Returns
    -------
    Evaluation
        The test rows' forecasts and their scores (:func:`skill_scores`).

    Raises
    ------
    ffnn.forecast.classify.InsufficientDataError
        When either side cannot be fitted or scored (too few rows or one class).
    """
    train, test = time_split_masks(times, settings.split_date, settings.window)
    if not test.any():
        raise InsufficientDataError(f"no labelled record on or after split_date {settings.split_date}")
    check_sufficient(y[train], groups[train], settings, what=f"labelled records before {settings.split_date}")
    model = fit_model(table[train], y[train], groups[train], settings)
    probability, scores = _score_fold(model, table[test], y[test])
    scores.update({"fold": 0, "n_train": int(train.sum()), "train_regions": int(groups[train].nunique()),
                   "test_regions": int(groups[test].nunique()),
                   "shared_regions": int(len(set(groups[train]) & set(groups[test])))})
    predictions = pd.DataFrame({"probability": probability, "predicted": (probability >= model.threshold).astype(int),
                                "fold": 0}, index=table.index[test])
    return Evaluation(f"time split at {settings.split_date}", predictions, pd.DataFrame([scores]))


def cross_validate(table: pd.DataFrame, y: pd.Series, groups: pd.Series, settings: ClassifySettings) -> Evaluation:
    """Repeated stratified k-fold cross-validation grouped by region.

    Parameters
    ----------
    table : `pandas.DataFrame`
        Raw keyword or summary table rows (``ffnn sharp-keywords``, ``summary.tsv``).
    y : `pandas.Series`
        0/1 labels aligned with ``table`` (:func:`ffnn.forecast.labels.flare_labels`).
    groups : `pandas.Series`
        Region (HARPNUM) of each row: no region is on both sides of a split.
    settings : `ffnn.forecast.classify.ClassifySettings`
        ``folds``, ``repeats`` and ``seed`` of the validation, and the model's settings.

    Returns
    -------
    Evaluation
        ``predictions``: the out-of-fold forecasts of every repeat; ``scores``: one row
        per test fold (:func:`skill_scores`), reported as mean and standard deviation.

    Raises
    ------
    ffnn.forecast.classify.InsufficientDataError
        When there are too few labelled rows, events or regions for the folds.

    Notes
    -----
    Repeat r uses the folds of seed ``settings.seed + r``; within each training part the
    model's threshold comes from its own grouped folds (nested), so no test record takes
    part in any choice. Records of one region are correlated from one 12-minute step to
    the next: random splits (as in Bobra & Couvidat 2015, ApJ 798, 135) overstate the
    skill; grouped and time splits are what verification studies use (Leka et al. 2019,
    ApJS 243, 36).
    """
    check_sufficient(y, groups, settings)
    rows, predictions = [], []
    for repeat in range(settings.repeats):
        seed = settings.seed + repeat
        folds = grouped_folds(y.to_numpy(), groups.to_numpy(), settings.folds, seed)
        for fold, (train, test) in enumerate(folds):
            # the threshold's inner folds are drawn apart from the outer ones (another seed)
            model = fit_model(table.iloc[train], y.iloc[train], groups.iloc[train], settings, seed=seed + 1000)
            probability, scores = _score_fold(model, table.iloc[test], y.iloc[test])
            rows.append({"repeat": repeat, "fold": fold, "n_train": len(train), **scores})
            predictions.append(pd.DataFrame({"probability": probability,
                                             "predicted": (probability >= model.threshold).astype(int),
                                             "repeat": repeat, "fold": fold}, index=table.index[test]))
        log.info("classify: cross-validation repeat %d/%d done", repeat + 1, settings.repeats)
    return Evaluation(f"grouped {len(folds)}-fold CV x {settings.repeats}", pd.concat(predictions), pd.DataFrame(rows))


def skill_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation and forecast (model, climatology): scores with their spread."""
    rows = []
    for evaluation in evaluations:
        for forecast, values in evaluation.summary().items():
            row = {"evaluation": evaluation.name, "forecast": forecast}
            for key in ("n_folds", "n") + tuple(k for s in SCORES for k in (s, s + "_std")):
                row[key] = values.get(key, np.nan)
            row["threshold"] = values.get("threshold", np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def format_skill_table(table: pd.DataFrame) -> str:
    """The skill table as Markdown, mean ± std where a spread exists."""
    def cell(row, key):
        mean, std = row[key], row.get(key + "_std", np.nan)
        return f"{mean:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")

    lines = ["| evaluation | forecast | n | TSS | HSS | BSS | AUC | BS | mean p / event rate |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        lines.append(f"| {row['evaluation']} | {row['forecast']} | {int(row['n'])} | {cell(row, 'tss')} | "
                     f"{cell(row, 'hss')} | {cell(row, 'bss')} | {cell(row, 'auc')} | {cell(row, 'brier')} | "
                     f"{row['mean_probability']:.3f} / {row['event_rate']:.3f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- figures


def _curves(evaluations: list[Evaluation], y: pd.Series):
    for evaluation in evaluations:
        p = evaluation.predictions
        yield evaluation, y.loc[p.index].to_numpy(), p["probability"].to_numpy()


def reliability_figure(evaluations: list[Evaluation], y: pd.Series, base_rate: float, path: str | Path, *,
                       event: str = "flare", dpi: int = 110) -> Path:
    """Reliability diagram: observed frequency against mean forecast per probability bin
    (pooled over folds; bins of at least :data:`MIN_BIN_COUNT` forecasts), with the diagonal
    (perfect calibration), the base rate of all records and a histogram of the forecasts.
    ``event`` names the event in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True, height_ratios=(3, 1),
                                      layout="constrained")
    top.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--", label="perfect calibration")
    top.axhline(base_rate, color="0.3", lw=1, ls=":", label=f"base rate ({base_rate:.2f})")
    for evaluation, y_true, p in _curves(evaluations, y):
        bins = reliability_bins(y_true, p)
        bins = bins[bins["n"] >= MIN_BIN_COUNT]
        line = top.plot(bins["mean_probability"], bins["observed_frequency"], marker="o",
                        label=f"{evaluation.name} (mean p {p.mean():.2f}, rate {y_true.mean():.2f})")[0]
        bottom.hist(p, bins=np.linspace(0, 1, RELIABILITY_BINS + 1), histtype="step", color=line.get_color())
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency",
            title=f"Reliability: P({event})")
    top.legend(fontsize=8, loc="upper left")
    bottom.set(xlabel="forecast probability", ylabel="records", yscale="log")
    return save_figure(fig, path, dpi=dpi)


def roc_figure(evaluations: list[Evaluation], y: pd.Series, path: str | Path, *, event: str = "flare",
               dpi: int = 110) -> Path:
    """ROC curves of the out-of-sample forecasts (pooled over folds), with each evaluation's
    operating point: the true and false positive rates at its thresholds (TSS = tpr - fpr)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.2), layout="constrained")
    ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--", label="climatology / no skill")
    for evaluation, y_true, p in _curves(evaluations, y):
        fpr, tpr, _ = roc_curve(y_true, p)
        auc = roc_auc_score(y_true, p)
        line = ax.plot(fpr, tpr, label=f"{evaluation.name} (AUC {auc:.2f})")[0]
        predicted = evaluation.predictions["predicted"].to_numpy()
        pod = predicted[y_true == 1].mean()
        pofd = predicted[y_true == 0].mean()
        ax.plot([pofd], [pod], marker="o", color=line.get_color(), ms=7,
                label=f"operating point (TSS {pod - pofd:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="false positive rate (POFD)", ylabel="true positive rate (POD)",
           title=f"ROC: P({event})")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path, dpi=dpi)
