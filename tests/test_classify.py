"""Tests of the flare-classification stage (ffnn.classify, ffnn.labels, ffnn classify)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ffnn import classify as cls
from ffnn import labels as lbl
from ffnn.errors import ConfigError, DataError, FFNNError

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
TRUE_COEF = {"x1": 2.5, "x2": -1.25}
NOISE = ("noise1", "noise2", "USFLUX")


def synthetic(n: int = 600, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """A summary table whose labels come from a logistic model of x1 and x2.

    Noise features carry no signal, x1 and noise1 have missing values, ``allnan`` is
    empty, and ``instrument`` is a categorical column (with missing values).
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = TRUE_COEF["x1"] * x1 + TRUE_COEF["x2"] * x2 - 0.2
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    t0 = pd.Timestamp("2012-01-01T00:00:00")
    table = pd.DataFrame({
        "region": [f"ar{11000 + i}_{(t0 + pd.Timedelta(hours=i)):%Y%m%dT%H%M}" for i in range(n)],
        "noaa": 11000 + np.arange(n),
        "harpnum": 1000 + np.arange(n),
        "t_rec": [(t0 + pd.Timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S") for i in range(n)],
        "lat": rng.uniform(-35, 35, size=n),
        "lon": rng.uniform(-60, 60, size=n),
        "noaa_ars": np.where(rng.random(n) < 0.3, "11000,11001", "11000"),
        "x1": x1,
        "x2": x2,
        "noise1": rng.normal(size=n),
        "noise2": rng.normal(size=n),
        "USFLUX": rng.lognormal(size=n),
        "allnan": np.nan,
        "loss_pde": rng.random(n),
        "wall_time_s": rng.random(n) * 100,
        "instrument": rng.choice(["hmi", "mdi"], size=n).astype(object),
    })
    table.loc[rng.random(n) < 0.1, "x1"] = np.nan
    table.loc[rng.random(n) < 0.1, "noise1"] = np.nan
    table.loc[rng.random(n) < 0.05, "instrument"] = np.nan
    return table, pd.Series(y, index=table.index, dtype=float)


SETTINGS = cls.ClassifySettings(categorical=("hemisphere", "multi_region", "instrument"))


def _fit(table, y, settings=SETTINGS):
    with pytest.warns(cls.FeatureWarning, match="allnan"):
        return cls.fit_classifier(table, y, settings)


@pytest.fixture(scope="module")
def fitted():
    table, y = synthetic()
    return table, y, _fit(table, y)


def _numeric_steps(result):
    numeric = result.model.pipeline.named_steps["features"].named_transformers_["numeric"]
    return numeric.named_steps["impute"], numeric.named_steps["scale"]


def _encoder(result):
    categorical = result.model.pipeline.named_steps["features"].named_transformers_["categorical"]
    return categorical.named_steps["onehot"]


# --- GOES classes and label files ---------------------------------------------------------


def test_goes_classes_turn_into_labels_by_threshold():
    assert lbl.goes_flux("M1.2") == pytest.approx(1.2e-5)
    assert lbl.goes_flux("x2.0") == pytest.approx(2e-4)
    assert lbl.goes_flux("") == 0.0 and lbl.goes_flux(None) == 0.0 and lbl.goes_flux(float("nan")) == 0.0
    assert lbl.goes_flux("C10") == lbl.goes_flux("M1.0")  # exact, not merely close
    assert [lbl.class_to_label(c) for c in ("M1.0", "M1", "C9.9", "X2.0", "C5.0", "", "C10")] == [1, 1, 0, 1, 0, 0, 1]
    assert lbl.class_to_label("M5.0", threshold_class="X1.0") == 0
    assert lbl.class_to_label("C2.0", threshold_class="C1.0") == 1
    assert lbl.max_flare_class(["C3.0", "M1.1", "", "C9.9"]) == "M1.1"
    with pytest.raises(DataError, match="Q7"):
        lbl.goes_flux("Q7")
    with pytest.raises(ConfigError):
        lbl.class_to_label("M1.0", threshold_class="big")


def test_read_labels_fixture():
    table = lbl.read_labels(DATA / "labels_example.csv")
    got = {(int(r.noaa), r.time.strftime("%Y-%m-%dT%H")): int(r.label) for r in table.itertuples()}
    assert got == {
        (11158, "2011-02-14T20"): 1,  # X2.2 and C4.0 for the same time: one major flare is enough
        (11158, "2011-02-13T20"): 1,
        (11166, "2011-03-08T12"): 0,  # JSOC TAI time string, C9.9 < M1.0
        (11166, "2011-03-09T00"): 1,  # explicit label wins over the (empty) class
        (11283, "2011-09-06T00"): 1,  # C10 == M1.0
        (11302, "2011-09-24T00"): 0,  # no flare
    }
    stricter = lbl.read_labels(DATA / "labels_example.csv", threshold_class="X1.0")
    assert int(stricter.label.sum()) == 2  # X2.2 and the explicit label


def test_read_labels_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("noaa,time,label\n11158,2011-02-14T20:00,maybe\n")
    with pytest.raises(DataError, match="must be 0 or 1"):
        lbl.read_labels(bad)
    bad.write_text("noaa,when,label\n11158,2011-02-14T20:00,1\n")
    with pytest.raises(DataError, match="noaa and time"):
        lbl.read_labels(bad)
    with pytest.raises(DataError, match="does not exist"):
        lbl.read_labels(tmp_path / "nope.csv")


def test_match_labels_by_noaa_time_tolerance_and_region():
    summary = pd.DataFrame({
        "region": ["a", "b", "c", "d", "e"],
        "noaa": [11158, 11158, 11166, np.nan, 11158],
        "t_rec": ["2011.02.14_20:00:00_TAI", "2011-02-14T20:50:00", "2011-03-08T12:12:00",
                  "2011-03-08T12:00:00", "2011-02-13T20:00:00"],
    })
    labels = lbl.labels_from_table(pd.DataFrame({
        "noaa": ["11158", "11166", "11158", ""],
        "time": ["2011-02-14T20:10:00", "2011-03-08T12:00:00", "2011-02-13T20:00:00", ""],
        "flare_class": ["X2.2", "C1.0", "M1.0", "X9.0"],
        "region": ["", "", "", "d"],
    }))
    got = lbl.match_labels(summary, labels, tolerance="30min")
    assert got.tolist()[0] == 1.0  # 10 min off, JSOC time format
    assert math.isnan(got.tolist()[1])  # 40 min off: outside tolerance
    assert got.tolist()[2:] == [0.0, 1.0, 1.0]  # d matched by region id despite missing noaa
    assert lbl.match_labels(summary, labels, tolerance="1h").tolist()[1] == 1.0


class FakeHEK:
    """Stands in for sunpy's HEKClient: returns fixed GOES events and counts calls."""

    def __init__(self, events=None, error=None):
        self.events, self.error, self.calls = events or {}, error, 0

    def search(self, *attrs):
        self.calls += 1
        if self.error:
            raise self.error
        return self.events


def test_hek_labels_are_cached_and_rerun_offline(tmp_path, monkeypatch):
    # The real search builds sunpy attrs; only the event-table handling is under test here.
    monkeypatch.setattr(lbl, "_hek_search", lambda client, start, end: lbl.events_frame(client.search(start, end)))
    summary = pd.DataFrame({"noaa": [11158, 11166, 11167], "t_rec": ["2011-02-14T20:00:00"] * 3})
    events = {
        "ar_noaanum": [11158, 11158, 11166, 11166, 11167],
        "event_peaktime": ["2011-02-15T01:56:00", "2011-02-14T21:00:00", "2011-02-14T19:00:00",
                           "2011-02-15T10:00:00", "2011-02-16T10:00:00"],
        "fl_goescls": ["X2.2", "M6.6", "X1.0", "C3.0", "M2.0"],
    }
    cache = tmp_path / "cache" / "hek.csv"
    online = FakeHEK(events)
    lbl.fetch_hek_labels(summary, cache, client=online)
    assert online.calls == 1  # the three identical windows merge into one query
    table = lbl.read_labels(cache)
    by_noaa = dict(zip(table.noaa.astype(int), table.label))
    # 11166's X1.0 peaked before T_REC and 11167's M2.0 after T_REC + 24 h: neither counts.
    assert by_noaa == {11158: 1, 11166: 0, 11167: 0}
    assert pd.read_csv(cache, dtype=str, keep_default_na=False).set_index("noaa").loc["11158", "flare_class"] == "X2.2"

    offline = FakeHEK(error=ConnectionError("no network"))
    lbl.fetch_hek_labels(summary, cache, client=offline)
    assert offline.calls == 0
    more = pd.concat([summary, pd.DataFrame({"noaa": [11200], "t_rec": ["2011-05-01T00:00:00"]})])
    with pytest.raises(FFNNError, match="rerun when online"):
        lbl.fetch_hek_labels(more, cache, client=offline)
    assert len(pd.read_csv(cache)) == 3  # a failed fetch leaves the cache as it was


# --- the model ----------------------------------------------------------------------------


def test_coefficients_recover_sign_and_order_of_true_model(fitted):
    _, _, result = fitted
    coef = result.coefficients.set_index("feature")["coefficient"]
    assert coef["x1"] > 0 > coef["x2"]
    assert abs(coef["x1"]) > abs(coef["x2"]) > max(abs(coef[f]) for f in NOISE)
    # Sorted by |coef|, identifiers and bookkeeping columns left out by default.
    assert list(result.coefficients.feature[:2]) == ["x1", "x2"]
    assert not {"noaa", "harpnum", "lat", "lon", "loss_pde", "wall_time_s", "allnan"} & set(coef.index)
    assert {"hemisphere_N", "hemisphere_S", "multi_region_yes", "instrument_missing"} <= set(coef.index)


def test_test_accuracy_clearly_above_majority_class(fitted):
    _, _, result = fitted
    test = result.metrics["test"]
    assert test["n"] == 150 and result.metrics["train"]["n"] == 450
    assert test["accuracy"] >= test["majority_accuracy"] + 0.15
    assert test["tss"] > 0.4 and test["hss"] > 0.4


def test_metrics_agree_with_predictions(fitted):
    _, y, result = fitted
    pred = result.predictions
    assert list(pred.columns) == ["region", "noaa", "t_rec", "y_true", "probability", "y_pred", "split"]
    assert ((pred.probability >= 0.5).astype(int) == pred.y_pred).all()
    for split in ("train", "test"):
        rows = pred[pred.split == split]
        m = result.metrics[split]
        (tn, fp), (fn, tp) = m["confusion_matrix"]
        assert tp == ((rows.y_true == 1) & (rows.y_pred == 1)).sum()
        assert fp == ((rows.y_true == 0) & (rows.y_pred == 1)).sum()
        assert tn + fp + fn + tp == m["n"] == len(rows)
        residual = (rows.y_true.astype(int) - rows.y_pred).abs().value_counts()
        assert m["residual_counts"] == {"0": int(residual.get(0, 0)), "1": int(residual.get(1, 0))}
        assert m["residual_proportions"]["1"] == pytest.approx(1 - m["accuracy"])
        assert m["tss"] == pytest.approx(tp / (tp + fn) - fp / (fp + tn))


def test_imputer_and_scaler_see_training_rows_only(fitted):
    table, y, result = fitted
    numeric = result.model.numeric
    imputer, scaler = _numeric_steps(result)
    train = result.predictions.split == "train"
    test = result.predictions.split == "test"
    x_train = table.loc[train, numeric]
    np.testing.assert_allclose(imputer.statistics_, x_train.mean())
    filled = x_train.fillna(x_train.mean())
    np.testing.assert_allclose(scaler.data_min_, filled.min())
    np.testing.assert_allclose(scaler.data_max_, filled.max())

    # Wreck the test rows: the same seed gives the same split, and nothing fitted may move.
    wrecked = table.copy()
    wrecked.loc[test, numeric] = wrecked.loc[test, numeric] * 1000 + 1e6
    wrecked.loc[test, "instrument"] = "never-in-training"
    again = _fit(wrecked, y)
    assert (again.predictions.split == result.predictions.split).all()
    imputer2, scaler2 = _numeric_steps(again)
    np.testing.assert_array_equal(imputer2.statistics_, imputer.statistics_)
    np.testing.assert_array_equal(scaler2.data_min_, scaler.data_min_)
    np.testing.assert_array_equal(scaler2.data_max_, scaler.data_max_)
    np.testing.assert_array_equal(again.model.pipeline.named_steps["model"].coef_,
                                  result.model.pipeline.named_steps["model"].coef_)
    assert not np.allclose(wrecked[numeric].mean(), imputer2.statistics_)  # the check has teeth
    assert "never-in-training" not in np.concatenate(_encoder(again).categories_)


def test_category_seen_only_in_test_rows_does_not_crash(fitted):
    table, y, result = fitted
    test_rows = result.predictions.index[result.predictions.split == "test"][:10]
    table = table.copy()
    table.loc[test_rows, "instrument"] = "eit"
    again = _fit(table, y)
    categories = dict(zip(again.model.categorical, _encoder(again).categories_))
    assert "eit" not in categories["instrument"] and "missing" in categories["instrument"]
    prob = again.predictions.loc[test_rows, "probability"]
    assert prob.between(0, 1).all()

    # New regions: unseen categories, missing values, an absent feature column.
    new = table.head(5).copy()
    new["instrument"] = ["gong", np.nan, "hmi", "eit", "hmi"]
    new["lat"] = np.nan
    new = new.drop(columns=["noise2"])
    with pytest.warns(cls.FeatureWarning, match="noise2"):
        scored = again.model.predict(new)
    assert scored.probability.between(0, 1).all() and len(scored) == 5


def test_too_few_rows_or_one_class_is_a_clear_error():
    table, y = synthetic(n=40)
    few = cls.ClassifySettings(min_rows=50)
    with pytest.raises(cls.InsufficientDataError, match="only 40 labelled regions.*at least 50"):
        cls.fit_classifier(table, y, few)
    with pytest.raises(cls.InsufficientDataError, match="both classes"):
        cls.fit_classifier(table, pd.Series(0.0, index=table.index), SETTINGS)
    lonely = pd.Series(0.0, index=table.index)
    lonely.iloc[0] = 1.0
    with pytest.raises(cls.InsufficientDataError, match="at least 2 of each class"):
        cls.fit_classifier(table, lonely, SETTINGS)
    unlabelled = pd.Series(np.nan, index=table.index)
    with pytest.raises(cls.InsufficientDataError, match="only 0 labelled"):
        cls.fit_classifier(table, unlabelled, SETTINGS)


def test_tiny_but_sufficient_table_still_splits():
    table, _ = synthetic(n=4)
    y = pd.Series([0.0, 1.0, 0.0, 1.0], index=table.index)
    with pytest.warns(cls.FeatureWarning):
        result = cls.fit_classifier(table, y, cls.ClassifySettings(min_rows=4))
    assert result.metrics["train"]["n"] == 2 and result.metrics["test"]["n"] == 2
    assert result.metrics["train"]["n_positive"] == 1


def test_skill_scores_and_zero_denominators():
    scores = cls.skill_scores(tn=50, fp=10, fn=5, tp=35)
    assert scores["tss"] == pytest.approx(35 / 40 - 10 / 60)
    assert scores["hss"] == pytest.approx(2 * (35 * 50 - 5 * 10) / (40 * 55 + 45 * 60))
    perfect = cls.skill_scores(tn=3, fp=0, fn=0, tp=2)
    assert perfect == {"tss": 1.0, "hss": 1.0}
    no_positives = cls.skill_scores(tn=5, fp=0, fn=0, tp=0)
    assert math.isnan(no_positives["tss"]) and math.isnan(no_positives["hss"])


def test_settings_validation():
    s = cls.ClassifySettings.from_mapping({"labels": "x.csv", "features": "a, b", "C": 2, "class_weight": "none",
                                           "seed": 7, "categorical": []})
    assert s.features == ("a", "b") and s.C == 2.0 and s.class_weight is None and s.categorical == ()
    assert cls.ClassifySettings.from_mapping({"features": "auto"}).features is None
    for bad in ({"colour": 1}, {"solver": "adam"}, {"test_size": 1.5}, {"probability_threshold": 0},
                {"threshold_class": "Z1"}, {"seed": "x"}, {"on_insufficient": "ignore"}, {"min_rows": 2}):
        with pytest.raises(ConfigError):
            cls.ClassifySettings.from_mapping(bad)
    table, y = synthetic(n=40)
    with pytest.raises(ConfigError, match="nosuch"):
        cls.fit_classifier(table, y, cls.ClassifySettings(features=("x1", "nosuch")))


def test_model_round_trip_and_untrusted_types_refused(fitted, tmp_path):
    table, _, result = fitted
    path = tmp_path / "model.skops"
    cls.save_model(result.model, path)
    loaded = cls.load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(table), result.predictions.probability)
    assert loaded.numeric == result.model.numeric and loaded.probability_threshold == 0.5

    import skops.io as sio

    sio.dump({"format": cls.MODEL_FORMAT, "payload": Foreign()}, tmp_path / "evil.skops")
    with pytest.raises(DataError, match="untrusted types.*Foreign"):
        cls.load_model(tmp_path / "evil.skops")


class Foreign:
    """A type a model file must not smuggle in."""


# --- command line -------------------------------------------------------------------------


def _main(argv, monkeypatch):
    """ffnn.cli.main with only the classify group registered (other groups are not ours)."""
    from ffnn import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ffnn.commands.classify",))
    return cli.main(argv)


def _write_inputs(tmp_path, n=200):
    table, y = synthetic(n=n)
    summary = tmp_path / "summary.tsv"
    table.to_csv(summary, sep="\t", index=False)
    # Label times a few minutes off T_REC, classes rather than 0/1.
    times = pd.to_datetime(table.t_rec) + pd.Timedelta(minutes=6)
    classes = np.where(y == 1, np.where(np.arange(n) % 2 == 0, "M2.3", "X1.0"), np.where(np.arange(n) % 3 == 0, "", "C5.0"))
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"noaa": table.noaa, "time": times.dt.strftime("%Y-%m-%dT%H:%M:%S"),
                  "flare_class": classes}).to_csv(labels, index=False)
    return table, y, summary, labels


def test_cli_fit_then_predict(tmp_path, monkeypatch, caplog):
    table, y, summary, labels = _write_inputs(tmp_path)
    config = tmp_path / "classify.yaml"
    config.write_text("classify:\n  categorical: [hemisphere, multi_region, instrument]\n  seed: 1\n  test_size: 0.3\n")
    out = tmp_path / "out"
    assert _main(["classify", str(summary), "--labels", str(labels), "--out", str(out),
                  "--config", str(config), "--C", "10"], monkeypatch) == 0
    assert sorted(p.name for p in out.iterdir()) == ["coefficients.tsv", "metrics.json", "model.skops", "predictions.tsv"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["seed"] == 1 and metrics["settings"]["C"] == 10.0  # file, then options
    assert metrics["n_labelled"] == 200 and metrics["test"]["n"] == 60
    assert metrics["features"]["dropped_empty"] == ["allnan"]
    assert any("allnan" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert metrics["test"]["accuracy"] > metrics["test"]["majority_accuracy"]
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert (predictions.y_true == y.astype(int)).all()  # matched through noaa + time tolerance
    assert set(predictions.split) == {"train", "test"}
    coefficients = pd.read_csv(out / "coefficients.tsv", sep="\t")
    assert coefficients.feature[0] == "x1"

    new = tmp_path / "new.tsv"
    fresh = table.head(8).drop(columns=["region", "noise2"]).assign(region=[f"new{i}" for i in range(8)],
                                                                     instrument="gong")
    fresh.to_csv(new, sep="\t", index=False)
    scored_dir = tmp_path / "scored"
    assert _main(["classify", "--predict", "--model", str(out / "model.skops"), str(new),
                  "--out", str(scored_dir)], monkeypatch) == 0
    scored = pd.read_csv(scored_dir / "predictions.tsv", sep="\t")
    assert list(scored.region) == [f"new{i}" for i in range(8)]
    assert scored.probability.between(0, 1).all() and set(scored.split) == {"new"}
    assert any("noise2" in r.getMessage() for r in caplog.records)  # absent column: imputed, said so

    checked = tmp_path / "checked"
    assert _main(["classify", "--predict", "--model", str(out / "model.skops"), str(summary), "--labels", str(labels),
                  "--out", str(checked)], monkeypatch) == 0
    new_metrics = json.loads((checked / "metrics.json").read_text())["new"]
    assert new_metrics["n"] == 200 and new_metrics["accuracy"] > new_metrics["majority_accuracy"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_cli_user_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    _, _, summary, labels = _write_inputs(tmp_path, n=30)
    out = tmp_path / "out"
    assert _main(["classify", str(summary), "--out", str(out)], monkeypatch) == 2
    assert "no label source" in capsys.readouterr().err
    assert _main(["classify", str(summary), "--labels", str(labels), "--out", str(out), "--min-rows", "100"],
                 monkeypatch) == 2
    err = capsys.readouterr().err
    assert "only 30 labelled regions" in err and len(err.strip().splitlines()) == 1
    assert _main(["classify", "--predict", str(summary), "--out", str(out)], monkeypatch) == 2
    assert "--model" in capsys.readouterr().err
    assert _main(["classify", str(summary), "--labels", str(DATA / "labels_example.csv"), "--out", str(out)],
                 monkeypatch) == 2
    assert "no region of" in capsys.readouterr().err

    assert _main(["classify", str(summary), "--labels", str(labels), "--out", str(out), "--min-rows", "100",
                  "--on-insufficient", "skip"], monkeypatch) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "insufficient" and "only 30" in metrics["reason"]
    assert not (out / "model.skops").exists()
    assert set(pd.read_csv(out / "predictions.tsv", sep="\t").split) == {"not_fitted"}


def test_cli_hek_labels_from_complete_cache_need_no_network(tmp_path, monkeypatch):
    table, y, summary, _ = _write_inputs(tmp_path, n=40)
    cache = tmp_path / "hek_cache.csv"
    pd.DataFrame({"noaa": table.noaa, "time": table.t_rec,
                  "flare_class": np.where(y == 1, "M1.5", "")}).to_csv(cache, index=False)

    def no_network(*args, **kwargs):
        raise AssertionError("HEK queried although the cache covers every region")

    monkeypatch.setattr(lbl, "_hek_search", no_network)
    out = tmp_path / "out"
    assert _main(["classify", str(summary), "--labels", "hek", "--hek-cache", str(cache), "--out", str(out)],
                 monkeypatch) == 0
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert (predictions.y_true == y.astype(int)).all()


# --- workflow rule --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake not installed")
def test_classify_rule_runs_in_a_workflow(tmp_path):
    _, _, summary, labels = _write_inputs(tmp_path, n=40)
    (tmp_path / "results").mkdir()
    summary.rename(tmp_path / "results" / "summary.tsv")
    # The rule calls `ffnn`; this shim runs it with only the classify group registered, so
    # the test does not depend on the other command groups.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "ffnn"
    shim.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        from ffnn import cli
        cli.COMMAND_MODULES = ("ffnn.commands.classify",)
        sys.exit(cli.main())
        """))
    shim.chmod(0o755)
    # the rule's helpers live in common.smk, which validates the config (defaults filled in)
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        include: {str(REPO / "workflow" / "rules" / "common.smk")!r}
        include: {str(REPO / "workflow" / "rules" / "classify.smk")!r}

        rule all:
            input: "results/classify"
        """))
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        classify:
          labels: {str(labels)!r}
          categorical: [hemisphere, multi_region, instrument]
          class_weight: null
          min_rows: 10
        """))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["snakemake", "--cores", "1", "--configfile", "config.yaml", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    log = tmp_path / "logs" / "classify.log"
    assert run.returncode == 0, run.stdout + run.stderr + (log.read_text() if log.exists() else "")
    out = tmp_path / "results" / "classify"
    assert {"predictions.tsv", "metrics.json", "coefficients.tsv", "model.skops"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["class_weight"] is None and metrics["n_labelled"] == 40
    assert (tmp_path / "results" / "benchmarks" / "classify.tsv").is_file()
