"""``ffnn classify``: fit and verify the flare forecast, or score a table with a saved model.

Fit (labels from a GOES event list; TABLE a keyword table or a summary table)::

    ffnn classify TABLE --events GOES.csv --outdir DIR [--split-date 2014-01-01] [--config SETTINGS]

writes into DIR: ``model.skops`` (fitted on every labelled record), ``skill.tsv`` (time split
and grouped cross-validation against climatology), ``folds.tsv``, ``predictions.csv`` (the
out-of-sample forecasts behind the skill table), ``labels.csv`` (with the flare history),
``coefficients.tsv``, ``reliability.png``, ``roc.png`` and, last, ``metrics.json``. The
flare-history feature (setting ``flare_history``, default 24 h) is computed from the same
event list; records of unknown history are left out.

Score a table with a saved model (in any process)::

    ffnn classify --predict --model DIR/model.skops TABLE2 --outdir DIR2 [--events GOES.csv]

writes ``DIR2/predictions.csv`` (``harpnum, t_rec, probability, predicted``, and the flare
history the model used; with ``--events`` also ``label`` and ``DIR2/metrics.json`` with the
scores). A model with flare history takes it from ``--events`` (computed for TABLE2's
records) or else from TABLE2's own ``flare_history_24h`` column; with neither it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
from pathlib import Path

import pandas as pd

from ffnn.forecast import classify as cls
from ffnn.io import keywords as kw
from ffnn.forecast import labels as lbl
from ffnn.forecast import verification as ver
from ffnn.cli import add_command
from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import check_output_dir, write_csv, write_json
from ffnn.util.settings import gather

log = logging.getLogger(__name__)

# CLI option dest -> settings key; options left at None do not override --config.
_SETTING_OPTIONS = ("split_date", "folds", "repeats", "seed", "window", "threshold_class", "flare_history", "C",
                    "class_weight")


def register(subparsers) -> None:
    """Add the ``classify`` subcommand to the top-level parser."""
    p = add_command(subparsers, "classify", cmd_classify,
                    "forecast flares >= M1.0 within 24 h from SHARP keywords (fit, verify, predict)",
                    inputs=("table", "events", "model", "config"), outputs=("outdir",))
    p.add_argument("table", help="SHARP keyword table (CSV) or summary table (TSV)")
    p.add_argument("--outdir", required=True, help="output directory")
    p.add_argument("--events", help="GOES event list (NCEI columns; ffnn flare-events writes one): the labels "
                                    "and the flare history")
    p.add_argument("--config", help="classify settings: a YAML file (top level or under 'classify:') "
                                    "or an inline YAML/JSON mapping")
    p.add_argument("--predict", action="store_true", help="score TABLE with --model instead of fitting")
    p.add_argument("--model", help="model.skops written by a fit (with --predict)")
    g = p.add_argument_group("settings (override --config)")
    g.add_argument("--split-date", help="time split: fit on records before, test on records from this UTC "
                                        "date (default: no time split)")
    g.add_argument("--folds", type=int, help="folds grouped by HARP (cross-validation and threshold; default 5)")
    g.add_argument("--repeats", type=int, help="repeats of the cross-validation (default 5)")
    g.add_argument("--seed", type=int, help="seed of the folds (default 0)")
    g.add_argument("--window", help="forecast window after T_REC (default 24h)")
    g.add_argument("--threshold-class", help="smallest GOES class counted as a flare (default M1.0)")
    g.add_argument("--flare-history", help="window of the flare-history feature before T_REC, or 'none' "
                                           "(default 24h)")
    g.add_argument("--C", dest="C", type=float, help="inverse L2 regularisation strength (default 1.0)")
    g.add_argument("--class-weight", help="'balanced' or 'none' (default none: calibrated probabilities)")


@contextlib.contextmanager
def _warnings_to_log():
    # On the command line a dropped or absent column is one log line, said once.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", cls.FeatureWarning)
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                log.warning("classify: %s", message)


def settings_from_args(args: argparse.Namespace) -> cls.ClassifySettings:
    """``--config``, then the individual options."""
    return cls.ClassifySettings.from_mapping(gather(args.config, "classify",
                                                    **{key: getattr(args, key) for key in _SETTING_OPTIONS}))


def cmd_classify(args: argparse.Namespace) -> int:
    """Fit a logistic-regression flare forecast on a SHARP keyword table or summary table with
    labels from a GOES event list and verify it (time split, grouped cross-validation,
    against climatology), or with --predict score a table with a saved model; the outputs go
    into --outdir."""
    if args.predict:
        return _run_predict(args)
    if args.model:
        raise ConfigError("--model is only used with --predict")
    if not args.events:
        raise ConfigError("no labels: give --events GOES.csv (a GOES event list, e.g. from ffnn flare-events)")
    settings = settings_from_args(args)
    table = kw.read_table(args.table)
    ids = kw.records(table)
    events = lbl.read_events(args.events)
    label = lbl.flare_labels(ids, events, window=settings.window, threshold_class=settings.threshold_class)
    rows = label["label"].notna() & ids["harpnum"].notna()
    log.info("classify: %d of %d records labelled (%d positive: flare >= %s within %s)", int(rows.sum()),
             len(table), int((label["label"][rows] == 1).sum()), settings.threshold_class, settings.window)
    if settings.flare_history:
        table = lbl.add_flare_history(table, events, settings.flare_history)
        history = table[lbl.history_column(settings.flare_history)]
        label[history.name] = history
        if (rows & history.isna()).any():
            log.warning("classify: %d labelled record(s) of unknown flare history left out",
                        int((rows & history.isna()).sum()))
        rows &= history.notna()
    out = check_output_dir(args.outdir, "--outdir")
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").unlink(missing_ok=True)  # written last: present only after a finished fit

    x, y = table[rows], label["label"][rows].astype(int)
    groups, times = ids["harpnum"][rows].astype("int64"), ids["time"][rows]
    evaluations, notes = [], {}
    with _warnings_to_log():
        model = cls.fit_model(x, y, groups, settings)
        if settings.split_date:
            try:
                evaluations.append(ver.time_split(x, y, groups, times, settings))
            except cls.InsufficientDataError as err:
                log.warning("classify: no time split: %s", err)
                notes["time_split"] = str(err)
        evaluations.append(ver.cross_validate(x, y, groups, settings))
    _write_fit(out, model, evaluations, notes, table, ids, label, rows, settings, args)
    return 0


def _write_fit(out: Path, model: cls.FlareModel, evaluations: list, notes: dict, table: pd.DataFrame,
               ids: pd.DataFrame, label: pd.DataFrame, rows: pd.Series, settings: cls.ClassifySettings,
               args: argparse.Namespace) -> None:
    y = label["label"][rows].astype(int)
    write_csv(pd.concat([ids[["harpnum", "t_rec", "noaa_ars"]], label], axis=1), out / "labels.csv")
    skill = ver.skill_table(evaluations)
    event = f"flare ≥ {settings.threshold_class} within {settings.window}"
    write_csv(skill, out / "skill.tsv", sep="\t")
    write_csv(pd.concat([e.scores.assign(evaluation=e.name) for e in evaluations], ignore_index=True)
                 [lambda f: ["evaluation"] + [c for c in f.columns if c != "evaluation"]], out / "folds.tsv", sep="\t")
    predictions = []
    for evaluation in evaluations:
        p = evaluation.predictions
        predictions.append(pd.concat([ids.loc[p.index, ["harpnum", "t_rec"]], label.loc[p.index], p], axis=1)
                           .assign(evaluation=evaluation.name))
    write_csv(pd.concat(predictions, ignore_index=True), out / "predictions.csv")
    coefficients = model.coefficients()
    write_csv(coefficients, out / "coefficients.tsv", sep="\t")
    cls.save_model(model, out / "model.skops")
    ver.reliability_figure(evaluations, y, float(y.mean()), out / "reliability.png", event=event)
    ver.roc_figure(evaluations, y, out / "roc.png", event=event)
    log.info("classify: skill (out of sample, against climatology):\n%s", ver.format_skill_table(skill))
    metrics = {
        "status": "fitted",
        "event": event,
        "inputs": {"table": str(args.table), "events": str(args.events)},
        "n_records": int(len(table)), "n_labelled": int(rows.sum()), "n_positive": int(y.sum()),
        "n_regions": int(ids["harpnum"][rows].nunique()), "base_rate": model.base_rate,
        "model": {"threshold": model.threshold, "intercept": model.intercept,
                  "features": {"numeric": model.numeric, "categorical": model.categorical},
                  "coefficients": dict(zip(coefficients["feature"], coefficients["coefficient"]))},
        "skill": {e.name: e.summary() for e in evaluations},
        "calibration": {e.name: ver.reliability_bins(y.loc[e.predictions.index], e.predictions["probability"])
                        .to_dict(orient="records") for e in evaluations},
        "notes": notes,
        "settings": settings.to_dict(),
    }
    write_json(metrics, out / "metrics.json")  # last: its presence marks a finished run


def _run_predict(args: argparse.Namespace) -> int:
    if not args.model:
        raise ConfigError("--predict needs --model PATH (a model.skops written by ffnn classify)")
    model = cls.load_model(args.model)
    table = kw.read_table(args.table)
    events = lbl.read_events(args.events) if args.events else None
    if model.history:
        history = lbl.history_column(model.history)
        if events is not None:
            table = lbl.add_flare_history(table, events, model.history)
        elif history not in table.columns:
            raise DataError(f"model {args.model} forecasts with the flare history ({history}: the largest flare of "
                            f"the region in the {model.history} before T_REC) and table {args.table} has no such "
                            f"column; give --events GOES.csv (a GOES event list covering those times) to compute it")
    with _warnings_to_log():
        predictions = model.predict(table)
    if model.history:
        predictions[history] = table[history]
    out = check_output_dir(args.outdir, "--outdir")
    out.mkdir(parents=True, exist_ok=True)
    if events is not None:
        label = lbl.flare_labels(kw.records(table), events, window=model.window,
                                 threshold_class=model.threshold_class)
        predictions = pd.concat([predictions, label], axis=1)
        scored = predictions["label"].notna() & predictions["probability"].notna()
        if scored.any():
            y = predictions.loc[scored, "label"].astype(int).to_numpy()
            p = predictions.loc[scored, "probability"].to_numpy()
            metrics = {"status": "predicted", "model": str(args.model), "n_records": len(table),
                       "n_scored": int(scored.sum()), "event": f"flare ≥ {model.threshold_class} within {model.window}",
                       "model_threshold": model.threshold, "model_base_rate": model.base_rate,
                       "model_skill": ver.skill_scores(y, p, model.threshold, model.base_rate),
                       "climatology": ver.climatology_scores(y, model.base_rate)}
            write_json(metrics, out / "metrics.json")
            s = metrics["model_skill"]
            log.info("classify --predict: %d labelled records: TSS %.3f, HSS %.3f, BSS %.3f, AUC %.3f",
                     int(scored.sum()), s["tss"], s["hss"], s["bss"], s["auc"])
        else:
            log.warning("classify --predict: no scored record has a label from %s", args.events)
    write_csv(predictions, out / "predictions.csv")
    log.info("classify --predict: scored %d records -> %s", int(predictions["probability"].notna().sum()), out)
    return 0
