"""The flare forecast (ffnn.forecast.classify, ffnn.forecast.verification, ``ffnn classify``) on synthetic keyword
tables whose labels follow a known logistic model of log10 TOTUSJH (tests/flare_data.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ffnn.forecast import classify as cls
from ffnn.io import keywords as kw
from ffnn.forecast import labels as lbl
from ffnn.forecast import verification as ver
from ffnn.util.errors import ConfigError, DataError
from flare_data import summary_layout, synthetic_flares

REPO = Path(__file__).resolve().parents[1]
FAST = {"folds": 3, "repeats": 2, "min_rows": 10, "flare_history": None}


@pytest.fixture(scope="module")
def data():
    """(table, labels, groups, times) of 40 regions x 8 records."""
    table, events, _ = synthetic_flares()
    ids = kw.records(table)
    y = lbl.flare_labels(ids, lbl.events_from_ncei(events.astype(str)))["label"].astype(int)
    return table, y, ids["harpnum"].astype("int64"), ids["time"]


def with_history_flares(table, events, labels, seed=2):
    """The synthetic event list plus a flare of the region 6 h before many records: M1.5
    before 60 % of the positive records, C2.0 before half of the negative ones (on the second
    NOAA number of two-region HARPs). No such flare falls in another record's label window:
    records of a region are 48 h apart."""
    rng = np.random.default_rng(seed)
    extra = []
    for t, ars, label in zip(kw.records(table)["time"], table["NOAA_ARS"], labels):
        if rng.random() < (0.6 if label else 0.5):
            peak = t - pd.Timedelta(hours=6)
            extra.append({"Flare Class": "M1.5" if label else "C2.0",
                          "Start Time": (peak - pd.Timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ"),
                          "Peak Time": peak.strftime("%Y-%m-%dT%H:%MZ"),
                          "End Time": (peak + pd.Timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ"),
                          "Active Region Number": int(str(ars).split(",")[-1])})
    return pd.concat([events, pd.DataFrame(extra)], ignore_index=True).sort_values("Peak Time", kind="stable")


@pytest.fixture
def history_inputs(tmp_path):
    """The synthetic keyword table and an event list with flares before the records, as files."""
    table, events, labels = synthetic_flares()
    table.to_csv(tmp_path / "keywords.csv", index=False)
    with_history_flares(table, events, labels).to_csv(tmp_path / "events.csv", index=False)
    return table, tmp_path / "keywords.csv", tmp_path / "events.csv"


@pytest.fixture
def inputs(tmp_path):
    """The synthetic keyword table and event list as files."""
    table, events, _ = synthetic_flares()
    table.to_csv(tmp_path / "keywords.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    return table, tmp_path / "keywords.csv", tmp_path / "events.csv"


def _main(argv):
    from ffnn import cli

    return cli.main([str(a) for a in argv])


# ---------------------------------------------------------------- splits


def test_grouped_folds_never_put_a_region_on_both_sides(data):
    table, y, groups, _ = data
    for seed in range(3):
        folds = cls.grouped_folds(y.to_numpy(), groups.to_numpy(), 5, seed)
        tested = np.concatenate([test for _, test in folds])
        assert sorted(tested) == list(range(len(y)))  # every record tested once
        for train, test in folds:
            assert not set(groups.iloc[train]) & set(groups.iloc[test])
            assert y.iloc[test].sum() > 0
    evaluation = ver.cross_validate(table, y, groups, cls.ClassifySettings(**FAST))
    assert evaluation.predictions.groupby("repeat").size().tolist() == [len(y)] * 2
    per_fold = evaluation.predictions.assign(g=groups).groupby(["repeat", "g"])["fold"].nunique()
    assert (per_fold == 1).all()  # a region's records share one test fold


def test_time_split_respects_the_date(data):
    table, y, groups, times = data
    date = "2012-05-01"
    train, test = ver.time_split_masks(times, date, "24h")
    stamp = pd.Timestamp(date, tz="UTC")
    assert (times[train] + pd.Timedelta("24h") <= stamp).all() and (times[test] >= stamp).all()
    assert train.any() and test.any() and not (train & test).any()
    gap = (times < stamp) & (times + pd.Timedelta("24h") > stamp)
    assert set(np.flatnonzero(~train & ~test)) == set(np.flatnonzero(gap))  # labels that look past the date
    evaluation = ver.time_split(table, y, groups, times, cls.ClassifySettings(**FAST, split_date=date))
    assert (times[evaluation.predictions.index] >= stamp).all()
    assert evaluation.predictions.index.equals(times.index[test])
    assert int(evaluation.scores["n_train"].iloc[0]) == int(train.sum())


# ---------------------------------------------------------------- scores


def test_skill_scores_follow_their_definitions():
    y = np.array([1] * 40 + [0] * 60)
    p = np.r_[np.full(35, 0.8), np.full(5, 0.2), np.full(10, 0.7), np.full(50, 0.1)]
    s = ver.skill_scores(y, p, threshold=0.5, base_rate=0.3)
    tp, fn, fp, tn = 35, 5, 10, 50
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (tp, fn, fp, tn)
    assert s["tss"] == pytest.approx(tp / (tp + fn) - fp / (fp + tn))
    assert s["hss"] == pytest.approx(2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))
    bs = np.mean((p - y) ** 2)
    assert s["brier"] == pytest.approx(bs) and s["bss"] == pytest.approx(1 - bs / np.mean((0.3 - y) ** 2))
    assert s["auc"] == pytest.approx((35 * 60 + 5 * 50) / (40 * 60))  # pairs ranked right, no ties
    # reliability: Murphy's term over the four forecast values
    rel = (35 * (0.8 - 1) ** 2 + 5 * (0.2 - 1) ** 2 + 10 * (0.7 - 0) ** 2 + 50 * 0.1 ** 2) / 100
    assert s["reliability"] == pytest.approx(rel)
    clim = ver.climatology_scores(y, 0.3)
    assert (clim["tss"], clim["hss"], clim["bss"], clim["auc"]) == (0.0, 0.0, 0.0, 0.5)
    assert ver.skill_scores(y, np.where(y == 1, 0.5, 0.0), 0.5, 0.4)["reliability"] > 0  # 0.5 vs observed 1


def test_threshold_is_the_one_of_maximal_tss():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.clip(0.3 + 0.25 * (y - 0.3) + rng.normal(0, 0.2, 300), 0, 1)
    best = max((np.mean(p[y == 1] >= t) - np.mean(p[y == 0] >= t), t) for t in np.unique(p))
    threshold = cls.tss_threshold(y, p)
    assert threshold == best[1]
    assert ver.skill_scores(y, p, threshold, 0.3)["tss"] == pytest.approx(best[0])


# ---------------------------------------------------------------- the model


def test_pipeline_learns_from_raw_keywords_with_named_coefficients(data):
    table, y, groups, _ = data
    model = cls.fit_model(table, y, groups, cls.ClassifySettings(**FAST))
    coef = model.coefficients().set_index("feature")["coefficient"]
    assert coef.index[0] == "TOTUSJH" and coef["TOTUSJH"] > 0  # the one keyword the labels depend on
    assert abs(coef["TOTUSJH"]) > 3 * coef.drop("TOTUSJH").abs().max()
    assert set(coef.index) == set(cls.DEFAULT_FEATURES) | {"multi_region_no", "multi_region_yes"}
    # the log is inside the pipeline: the raw table in, one probability per record out
    p = model.predict_proba(table)
    assert p.shape == (len(table),) and ((p > 0) & (p < 1)).all()
    derived = model.pipeline.named_steps["derive"].transform(table)
    np.testing.assert_allclose(derived["TOTUSJH"], np.log10(table["TOTUSJH"]))
    np.testing.assert_allclose(derived["MEANJZH"], np.log10(table["MEANJZH"].abs()))  # signed mean: magnitude
    np.testing.assert_allclose(derived["abs_lon"], table["LON_FWT"].abs())
    # the threshold comes from out-of-fold forecasts of folds grouped by region, not in-sample ones
    from sklearn.model_selection import cross_val_predict

    folds = cls.grouped_folds(y.to_numpy(), groups.to_numpy(), FAST["folds"], 0)
    oof = cross_val_predict(cls.build_pipeline(cls.ClassifySettings(**FAST), model.numeric, model.categorical),
                            table, y.to_numpy(), cv=folds, method="predict_proba")[:, 1]
    assert model.threshold == cls.tss_threshold(y.to_numpy(), oof)
    assert model.threshold != cls.tss_threshold(y.to_numpy(), p)


def test_probabilities_are_calibrated_and_balanced_weights_are_not(data):
    table, y, groups, _ = data

    def pooled(**settings):
        """Scores of the out-of-fold forecasts of all folds together (bins hold enough records)."""
        evaluation = ver.cross_validate(table, y, groups, cls.ClassifySettings(**FAST, **settings))
        p = evaluation.predictions
        return evaluation.summary()["model"], ver.skill_scores(y[p.index], p["probability"], 0.5, y.mean())

    calibrated, calibrated_pooled = pooled()
    assert calibrated["mean_probability"] == pytest.approx(calibrated["event_rate"], abs=0.03)
    assert calibrated["bss"] > 0.1 and calibrated["tss"] > 0.3 and calibrated["auc"] > 0.75
    balanced, balanced_pooled = pooled(class_weight="balanced")
    assert balanced["mean_probability"] > calibrated["event_rate"] + 0.1
    assert balanced_pooled["reliability"] > 3 * calibrated_pooled["reliability"]
    assert balanced["bss"] < calibrated["bss"]


def test_features_missing_from_a_table_are_imputed_and_featureless_rows_not_scored(data):
    table, y, groups, _ = data
    model = cls.fit_model(table, y, groups, cls.ClassifySettings(**FAST))
    new = table.head(4).copy()
    new.loc[new.index[0], "MEANSHR"] = np.nan  # a value missing in a row: imputed
    new.loc[new.index[1], list(set(cls.DEFAULT_FEATURES) - {"abs_lon"}) + ["LON_FWT"]] = np.nan
    with pytest.warns(cls.FeatureWarning) as said:
        scored = model.predict(new)
    assert [str(w.message) for w in said] == ["1 row(s) hold none of the model's features and are not scored"]
    assert scored["probability"].notna().tolist() == [True, False, True, True]
    assert scored["predicted"].isna().tolist() == [False, True, False, False]
    # a whole column absent is a wrong table, not rows without keywords
    with pytest.raises(DataError, match=r"^the table has no column for the model's feature\(s\) MEANSHR, "
                                        r"abs_lon \(from LON_FWT\); give a SHARP keyword table"):
        model.predict(table.head(4).drop(columns=["MEANSHR", "LON_FWT"]))
    for values in (["lots"] * 4, [1e22, "lots", 2e22, np.nan]):  # text where numbers belong
        with pytest.raises(DataError, match=r"^feature column USFLUX holds [41] non-numeric value\(s\), "
                                            r"e.g. 'lots'; numbers or empty cells only$"):
            model.predict(table.head(4).assign(USFLUX=values))
    empty = table.assign(TOTPOT=np.nan)
    with pytest.warns(cls.FeatureWarning, match="no value in any training row: TOTPOT"):
        refit = cls.fit_model(empty, y, groups, cls.ClassifySettings(**FAST))
    assert "TOTPOT" not in refit.numeric
    single = table.assign(NOAA_ARS=table["NOAA_AR"].astype(str))
    with pytest.warns(cls.FeatureWarning, match=r"one value in every training row: multi_region \(no\)"):
        refit = cls.fit_model(single, y, groups, cls.ClassifySettings(**FAST, categorical=["multi_region", "hemisphere"]))
    assert refit.categorical == ["hemisphere"]
    assert {"hemisphere_N", "hemisphere_S"} <= set(refit.coefficients()["feature"])


def test_too_little_data_and_bad_settings_are_clear_errors(data):
    table, y, groups, _ = data
    settings = cls.ClassifySettings(**FAST)
    with pytest.raises(cls.InsufficientDataError, match="only 5 labelled records"):
        cls.fit_model(table.head(5), y.head(5), groups.head(5), settings)
    with pytest.raises(cls.InsufficientDataError, match="a classifier needs both classes"):
        cls.fit_model(table, y * 0, groups, settings)
    one_region = (groups == groups[y == 1].iloc[0]) & (y == 1) | (y == 0)
    with pytest.raises(cls.InsufficientDataError, match="positive records of 1 region"):
        cls.fit_model(table[one_region], y[one_region], groups[one_region], settings)
    s = cls.ClassifySettings.from_mapping({"features": "USFLUX, TOTPOT", "log_features": ["USFLUX"], "C": 2,
                                           "class_weight": "none", "split_date": None, "table": "x.csv"})
    assert s.features == ("USFLUX", "TOTPOT") and s.C == 2.0 and s.class_weight is None
    assert cls.ClassifySettings().flare_history == "24h"  # on by default
    for off in (None, False, "none", "off"):
        assert cls.ClassifySettings.from_mapping({"flare_history": off}).numeric_features == cls.DEFAULT_FEATURES
    assert cls.ClassifySettings.from_mapping({"flare_history": "2 days"}).numeric_features[-2:] == (
        "flare_history_48h", "flare_history_48h_any")
    for bad in ({"colour": 1}, {"folds": 1}, {"window": "soon"}, {"threshold_class": "Z1"}, {"seed": "x"},
                {"categorical": ["sunspot_type"]}, {"log_features": ["R_VALUE"]}, {"split_date": "someday"},
                {"class_weight": "heavy"}, {"flare_history": "lately"}, {"flare_history": 24},
                {"features": ["USFLUX", "flare_history_24h"], "log_features": []}):
        with pytest.raises(ConfigError):
            cls.ClassifySettings.from_mapping(bad)


# ---------------------------------------------------------------- command line and saved model


def test_cli_fit_writes_skill_against_climatology_and_a_model(inputs, tmp_path):
    table, keywords, events = inputs
    out = tmp_path / "fit"
    assert _main(["classify", keywords, "--events", events, "--outdir", out, "--split-date", "2012-05-01",
                  "--config", json.dumps({"folds": 3, "repeats": 2, "min_rows": 10})]) == 0
    assert {p.name for p in out.iterdir()} == {"model.skops", "skill.tsv", "folds.tsv", "predictions.csv",
                                               "labels.csv", "coefficients.tsv", "reliability.png", "roc.png",
                                               "metrics.json"}
    skill = pd.read_csv(out / "skill.tsv", sep="\t").set_index(["evaluation", "forecast"])
    assert set(skill.index) == {("time split at 2012-05-01", "model"), ("time split at 2012-05-01", "climatology"),
                                ("grouped 3-fold CV x 2", "model"), ("grouped 3-fold CV x 2", "climatology")}
    cv = skill.loc[("grouped 3-fold CV x 2", "model")]
    assert cv["n_folds"] == 6 and cv["tss_std"] > 0 and cv["auc"] > 0.75 and cv["bss"] > 0
    assert skill.loc[("grouped 3-fold CV x 2", "climatology"), "tss"] == 0
    folds = pd.read_csv(out / "folds.tsv", sep="\t")
    assert cv["tss"] == pytest.approx(folds.loc[folds["evaluation"].str.startswith("grouped"), "tss"].mean())
    metrics = json.loads((out / "metrics.json").read_text())
    model = cls.load_model(out / "model.skops")
    assert metrics["model"]["threshold"] == model.threshold and metrics["n_labelled"] == len(table)
    assert metrics["model"]["coefficients"]["TOTUSJH"] == max(metrics["model"]["coefficients"].values())
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"harpnum", "t_rec", "label", "probability", "predicted", "evaluation"} <= set(predictions.columns)
    assert (out / "roc.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_saved_model_scores_a_raw_table_in_a_fresh_process(history_inputs, tmp_path):
    table, keywords, events = history_inputs
    fit = tmp_path / "fit"
    assert _main(["classify", keywords, "--events", events, "--outdir", fit, "--folds", "3", "--repeats", "1",
                  "--config", "{min_rows: 10}"]) == 0  # with the flare history (the default)
    history = "flare_history_24h"
    labels = pd.read_csv(fit / "labels.csv")  # the fit writes the history it used beside the labels
    assert labels[history].gt(0).any() and labels[history].eq(0).any()
    # 25 records, and one a decade after the event list ends (its history is unknown)
    late = table.iloc[[0]].assign(T_REC="2031.01.01_00:00:37_TAI").set_axis([len(table)])
    new = pd.concat([table.sample(25, random_state=1), late])
    new.to_csv(tmp_path / "raw.csv", index=False)
    with_history = new.assign(**{history: labels[history].reindex(new.index)})  # the late row: NaN, unknown
    with_history.to_csv(tmp_path / "keyed.csv", index=False)
    summary_layout(with_history).to_csv(tmp_path / "keyed_summary.tsv", sep="\t", index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    # one new process (not the one that fitted) scores: the raw table alone (refused), the raw
    # table with the event list, and both layouts that carry the history column
    def call(name, out, *extra):
        return ["classify", "--predict", "--model", str(fit / "model.skops"), str(tmp_path / name), "--outdir",
                str(tmp_path / out), *map(str, extra)]

    calls = [call("raw.csv", "refused"), call("raw.csv", "raw", "--events", events), call("keyed.csv", "keyed"),
             call("keyed_summary.tsv", "keyed_summary")]
    code = f"import json; from ffnn import cli; print(json.dumps([cli.main(argv) for argv in {calls!r}]))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [2, 0, 0, 0], run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("ffnn classify: error:")]
    assert len(errors) == 1 and f"table {tmp_path / 'raw.csv'} has no such column" in errors[0]
    assert f"forecasts with the flare history ({history}" in errors[0] and "give --events" in errors[0]
    assert not (tmp_path / "refused").exists()

    from_events = pd.read_csv(tmp_path / "raw" / "predictions.csv")
    keyed = pd.read_csv(tmp_path / "keyed" / "predictions.csv")
    summary_rows = pd.read_csv(tmp_path / "keyed_summary" / "predictions.csv")
    assert list(keyed.columns) == ["harpnum", "t_rec", "probability", "predicted", history]
    assert keyed["t_rec"].tolist() == new["T_REC"].tolist()
    # the history computed from the event list in the predict step is the one the fit wrote
    np.testing.assert_allclose(from_events[history], keyed[history], rtol=1e-12)
    model = cls.load_model(fit / "model.skops")
    assert model.history == "24h"
    expected = model.predict_proba(with_history.iloc[:-1])
    for rows in (from_events, keyed, summary_rows):
        np.testing.assert_allclose(rows["probability"].iloc[:-1], expected, rtol=1e-12)
        assert rows["probability"].isna().tolist() == [False] * 25 + [True]  # unknown history: not scored
        scored = rows.iloc[:-1]
        assert (scored["predicted"] == (scored["probability"] >= model.threshold)).all()
    assert summary_rows["region"].tolist() == summary_layout(new)["region"].tolist()

    # with the event list: the new records' labels and the model's skill on them
    metrics = json.loads((tmp_path / "raw" / "metrics.json").read_text())
    assert metrics["n_scored"] == 25 and metrics["climatology"]["bss"] == 0
    assert metrics["model_skill"]["auc"] > 0.5
    assert from_events["label"].iloc[:-1].notna().all() and np.isnan(from_events["label"].iloc[-1])


def test_flare_history_is_derived_in_the_pipeline_and_informs_the_forecast(history_inputs):
    table, _, events_file = history_inputs
    events = lbl.read_events(events_file)
    ids = kw.records(table)
    y = lbl.flare_labels(ids, events)["label"].astype(int)
    groups = ids["harpnum"].astype("int64")
    keyed = lbl.add_flare_history(table, events)
    flux = keyed["flare_history_24h"]
    assert flux.notna().all() and (flux > 0).any() and (flux == 0).any()
    model = cls.fit_model(keyed, y, groups, cls.ClassifySettings(**{**FAST, "flare_history": "24h"}))
    derived = model.pipeline.named_steps["derive"].transform(keyed)
    np.testing.assert_allclose(derived["flare_history_24h"], np.log10(flux.clip(lower=cls.HISTORY_FLOOR)))
    np.testing.assert_array_equal(derived["flare_history_24h_any"], (flux > 0).astype(float))
    coef = model.coefficients().set_index("feature")["coefficient"]
    assert coef["flare_history_24h"] > 0
    # the history carries information the keywords lack: out-of-sample skill rises with it
    with_history = ver.cross_validate(keyed, y, groups, cls.ClassifySettings(**{**FAST, "flare_history": "24h"}))
    without = ver.cross_validate(keyed, y, groups, cls.ClassifySettings(**FAST))
    assert with_history.summary()["model"]["auc"] > without.summary()["model"]["auc"] + 0.02
    # no history column: refused, never imputed as "no flare"; unknown history: not scored
    with pytest.raises(DataError, match="no flare_history_24h column"):
        model.predict(table)
    with pytest.raises(DataError, match="no flare_history_24h column"):
        cls.fit_model(table, y, groups, cls.ClassifySettings(**{**FAST, "flare_history": "24h"}))
    unknown = keyed.head(3).copy()
    unknown.loc[unknown.index[1], "flare_history_24h"] = np.nan
    with pytest.warns(cls.FeatureWarning, match="1 row.* no known flare history"):
        scored = model.predict(unknown)
    assert scored["probability"].isna().tolist() == [False, True, False]
    keyed.loc[keyed.index[1], "flare_history_24h"] = np.nan
    with pytest.raises(DataError, match="1 training record.* no known flare history"):
        cls.fit_model(keyed, y, groups, cls.ClassifySettings(**{**FAST, "flare_history": "24h"}))


def test_model_files_with_untrusted_types_are_refused(tmp_path):
    import skops.io as sio

    sio.dump({"format": cls.MODEL_FORMAT, "payload": Foreign()}, tmp_path / "evil.skops")
    with pytest.raises(DataError, match="untrusted types.*Foreign"):
        cls.load_model(tmp_path / "evil.skops")
    (tmp_path / "junk.skops").write_text("not a model")
    with pytest.raises(DataError, match="not a skops file"):
        cls.load_model(tmp_path / "junk.skops")


class Foreign:
    """A type a model file must not smuggle in."""


def test_cli_user_errors_exit_2_with_one_line(inputs, tmp_path, capsys):
    table, keywords, events = inputs
    out = tmp_path / "out"
    cases = [
        (["classify", keywords, "--outdir", out], "no labels: give --events"),
        (["classify", "--predict", keywords, "--outdir", out], "--predict needs --model"),
        (["classify", keywords, "--events", events, "--outdir", out, "--config", "{colour: red}"],
         "unknown classify setting(s) ['colour']"),
        (["classify", keywords, "--events", tmp_path / "none.csv", "--outdir", out], "event list"),
        (["classify", keywords, "--events", events, "--outdir", out, "--threshold-class", "X9.9"],
         "a classifier needs both classes"),
    ]
    for argv, message in cases:
        assert _main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "model.skops").exists()


# ---------------------------------------------------------------- workflow rule


@pytest.mark.skipif(importlib.util.find_spec("snakemake") is None, reason="snakemake not installed")
def test_classify_rule_runs_in_a_workflow(inputs, tmp_path):
    table, keywords, events = inputs
    # the rule's inputs are wired by ffnn.pipeline.jobs, which validates the config (defaults filled in)
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        lowlou: {{regions: []}}
        classify:
          table: {str(keywords)!r}
          events: {str(events)!r}
          split_date: "2012-05-01"
          folds: 3
          repeats: 1
          min_rows: 10
        """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    run = subprocess.run([sys.executable, "-m", "snakemake", "results/classify/skill.tsv", "--snakefile",
                          str(REPO / "workflow" / "Snakefile"), "--cores", "1", "--workflow-profile", "none",
                          "--configfile", "config.yaml", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = tmp_path / "logs" / "classify.log"
    assert run.returncode == 0, run.stdout + run.stderr + (log.read_text() if log.exists() else "")
    skill = pd.read_csv(tmp_path / "results" / "classify" / "skill.tsv", sep="\t")
    assert len(skill) == 4 and set(skill["forecast"]) == {"model", "climatology"}
    assert (tmp_path / "results" / "benchmarks" / "classify.tsv").is_file()
    assert "TSS" in log.read_text()
