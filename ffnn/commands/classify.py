"""``ffnn classify``: fit the flare classifier on a summary table, or score a new one.

Fit::

    ffnn classify results/summary.tsv --labels labels.csv --out results/classify [--config classify.yaml]
    ffnn classify results/summary.tsv --labels hek --hek-cache resources/hek_flares.csv --out results/classify

Score new regions with a saved model::

    ffnn classify --predict --model results/classify/model.skops new_summary.tsv --out results/new
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ffnn import classify as cls
from ffnn import labels as lbl
from ffnn.errors import ConfigError

log = logging.getLogger(__name__)

# CLI option dest -> settings key; options left at None do not override the config file.
_SETTING_OPTIONS = {
    "features": "features", "exclude": "exclude", "categorical": "categorical",
    "threshold_class": "threshold_class", "probability_threshold": "probability_threshold",
    "test_size": "test_size", "seed": "seed", "C": "C", "solver": "solver",
    "class_weight": "class_weight", "imputer_strategy": "imputer_strategy", "max_iter": "max_iter",
    "label_tolerance": "label_tolerance", "min_rows": "min_rows", "on_insufficient": "on_insufficient",
}


def register(subparsers) -> None:
    """Add the ``classify`` subcommand to the top-level parser."""
    p = subparsers.add_parser(
        "classify", help="predict which regions produce a flare >= M1.0 within 24 h",
        description="Fit a logistic-regression flare classifier on the summary table "
                    "(or, with --predict, score a new table with a saved model).")
    p.add_argument("summary", help="summary table (TSV, one row per region)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--labels", help="label CSV (noaa,time,label|flare_class or region,...), or 'hek' to fetch "
                                    "GOES flares from HEK into --hek-cache")
    p.add_argument("--hek-cache", help="CSV caching HEK flare labels (required with --labels hek)")
    p.add_argument("--config", help="YAML file with the classify settings (top level or under 'classify:')")
    p.add_argument("--predict", action="store_true", help="score SUMMARY with --model instead of fitting")
    p.add_argument("--model", help="model.skops written by a fit (with --predict)")
    g = p.add_argument_group("settings (override --config)")
    g.add_argument("--features", help="comma-separated numeric feature columns, or 'auto' (default: all numeric "
                                      "columns except --exclude)")
    g.add_argument("--exclude", help="comma-separated patterns of numeric columns left out by 'auto' "
                                     f"(default: {','.join(cls.DEFAULT_EXCLUDE)})")
    g.add_argument("--categorical", help="comma-separated categorical columns "
                                         f"(default: {','.join(cls.DEFAULT_CATEGORICAL)})")
    g.add_argument("--threshold-class", help="smallest GOES class counted as a major flare (default M1.0)")
    g.add_argument("--probability-threshold", type=float, help="probability above which a region is predicted "
                                                               "to flare (default 0.5)")
    g.add_argument("--test-size", type=float, help="share of labelled regions held out for testing (default 0.25)")
    g.add_argument("--seed", type=int, help="random seed of the split and the solver (default 0)")
    g.add_argument("--C", dest="C", type=float, help="inverse regularisation strength (default 1.0)")
    g.add_argument("--solver", choices=cls.SOLVERS, help="LogisticRegression solver (default lbfgs)")
    g.add_argument("--class-weight", help="'balanced' or 'none' (default balanced)")
    g.add_argument("--imputer-strategy", choices=cls.IMPUTER_STRATEGIES, help="numeric imputation (default mean)")
    g.add_argument("--max-iter", type=int, help="solver iterations (default 1000)")
    g.add_argument("--label-tolerance", help="largest |t_rec - label time| that matches (default 30min)")
    g.add_argument("--min-rows", type=int, help="fewest labelled regions to fit on (default 10)")
    g.add_argument("--on-insufficient", choices=cls.ON_INSUFFICIENT,
                   help="too few labelled regions or one class: 'fail' (exit 2) or 'skip' (write the reason "
                        "and exit 0) (default fail)")
    p.set_defaults(func=run)


@contextlib.contextmanager
def _warnings_to_log():
    # On the command line a dropped column is one log line, not a Python source excerpt.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", cls.FeatureWarning)
        try:
            yield
        finally:
            for warning in caught:
                log.warning("classify: %s", warning.message)


def _config_mapping(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if isinstance(data, dict) and isinstance(data.get("classify"), dict):
        data = data["classify"]
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of classify settings")
    return data


def _settings_mapping(args: argparse.Namespace) -> dict[str, Any]:
    mapping = _config_mapping(args.config)
    for dest, key in _SETTING_OPTIONS.items():
        value = getattr(args, dest)
        if value is not None:
            mapping[key] = value
    if args.labels is not None:
        mapping["labels"] = args.labels
    if args.hek_cache is not None:
        mapping["hek_cache"] = args.hek_cache
    return mapping


def _load_labels(source: Any, mapping: dict[str, Any], summary: pd.DataFrame, threshold_class: str) -> pd.DataFrame:
    if not source:
        raise ConfigError("no label source: give --labels PATH.csv or --labels hek (config key classify.labels)")
    if str(source).strip().lower() == "hek":
        cache = mapping.get("hek_cache")
        if not cache:
            raise ConfigError("--labels hek needs --hek-cache PATH (config key classify.hek_cache)")
        raw = lbl.fetch_hek_labels(summary, cache)
        return lbl.labels_from_table(raw, threshold_class, source=f"HEK cache {cache}")
    return lbl.read_labels(source, threshold_class)


def run(args: argparse.Namespace) -> int:
    """Fit or score, write the outputs into ``--out``; returns the exit status."""
    mapping = _settings_mapping(args)
    if args.predict:
        return _run_predict(args, mapping)
    if args.model:
        raise ConfigError("--model is only used with --predict")
    settings = cls.ClassifySettings.from_mapping(mapping)
    summary = cls.read_summary(args.summary)
    label_table = _load_labels(mapping.get("labels"), mapping, summary, settings.threshold_class)
    y = lbl.match_labels(summary, label_table, settings.label_tolerance)
    n_labelled = int(y.notna().sum())
    log.info("classify: %d of %d regions labelled (%d positive)", n_labelled, len(summary), int((y == 1).sum()))
    try:
        if n_labelled == 0:
            raise cls.InsufficientDataError(
                f"no region of {args.summary} matches a label from {mapping.get('labels')} (same noaa and t_rec "
                f"within {settings.label_tolerance}, or the same region id)")
        with _warnings_to_log():
            result = cls.fit_classifier(summary, y, settings)
    except cls.InsufficientDataError as err:
        if settings.on_insufficient == "skip":
            log.warning("classify: not fitted: %s", err)
            cls.write_insufficient(summary, y, str(err), settings, args.out)
            return 0
        raise
    cls.write_outputs(result, args.out)
    test = result.metrics["test"]
    log.info("classify: test accuracy %.3f (majority %.3f), TSS %s, HSS %s -> %s", test["accuracy"],
             test["majority_accuracy"], _fmt(test["tss"]), _fmt(test["hss"]), args.out)
    return 0


def _fmt(value: float) -> str:
    return "nan" if value != value else f"{value:.3f}"


def _run_predict(args: argparse.Namespace, mapping: dict[str, Any]) -> int:
    if not args.model:
        raise ConfigError("--predict needs --model PATH (a model.skops written by ffnn classify)")
    model = cls.load_model(args.model)
    if args.probability_threshold is not None:
        if not 0.0 < args.probability_threshold < 1.0:
            raise ConfigError(f"probability threshold must lie in (0, 1), not {args.probability_threshold}")
        model.probability_threshold = args.probability_threshold
    summary = cls.read_summary(args.summary)
    with _warnings_to_log():
        predictions = model.predict(summary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = mapping.get("labels")
    if source:
        # Labels of new regions are scored with the class threshold the model was fitted for.
        tolerance = mapping.get("label_tolerance", lbl.DEFAULT_TOLERANCE)
        label_table = _load_labels(source, mapping, summary, model.threshold_class)
        y = lbl.match_labels(summary, label_table, tolerance)
        predictions.insert(3, "y_true", y.astype("Int64"))
        rows = y.notna()
        if rows.any():
            y_true = y[rows].astype(int)
            majority = int(y_true.value_counts().sort_index().idxmax())
            metrics = {"status": "predicted", "model": str(args.model),
                       "probability_threshold": model.probability_threshold,
                       "n_rows": int(len(summary)), "n_labelled": int(rows.sum()),
                       "new": cls.split_metrics(y_true.to_numpy(), predictions.loc[rows, "y_pred"].to_numpy(), majority)}
            cls.write_json(metrics, out / "metrics.json")
        else:
            log.warning("classify --predict: no label matches a region of %s", args.summary)
    predictions["split"] = "new"
    cls.write_table(predictions, out / "predictions.tsv")
    log.info("classify --predict: scored %d regions -> %s", len(predictions), out)
    return 0

