"""Flare classification of regions: will a region produce a flare >= M1.0 within 24 h?

One scikit-learn Pipeline does the work::

    numeric     -> SimpleImputer(mean) -> MinMaxScaler
    categorical -> SimpleImputer(constant "missing") -> OneHotEncoder(handle_unknown="ignore")
    -> LogisticRegression

It is fitted on a stratified, seeded train split only, so imputer means, scaler ranges and
categories never see a test row. Everything here is a pure function of its arguments or a
small object holding fitted state; settings arrive as a :class:`ClassifySettings`.

Default features are every numeric column of the summary table except identifiers and
bookkeeping (``noaa``, ``harpnum``, ``lat``, ``lon``, ``wall_time_s``, ``loss_*``: they
describe where a region is or how the extrapolation ran, not its magnetic state), plus two
categoricals derived from the table: ``hemisphere`` (N/S from the sign of ``lat``) and
``multi_region`` (yes/no: the HARP holds more than one NOAA region, from ``noaa_ars``).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from ffnn.errors import ConfigError, DataError
from ffnn.labels import DEFAULT_THRESHOLD_CLASS, DEFAULT_TOLERANCE, threshold_flux

log = logging.getLogger(__name__)

DEFAULT_EXCLUDE = ("noaa", "harpnum", "lat", "lon", "wall_time_s", "loss_*")
DEFAULT_CATEGORICAL = ("hemisphere", "multi_region")
#: Columns that carry answers rather than features; never used as inputs.
RESERVED_COLUMNS = ("label", "y_true", "y_pred", "probability", "split")
ID_COLUMNS = ("region", "noaa", "t_rec")
MISSING_CATEGORY = "missing"
SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
IMPUTER_STRATEGIES = ("mean", "median", "most_frequent")
ON_INSUFFICIENT = ("fail", "skip")
#: Config keys that choose where labels come from; read by the command, not the model.
SOURCE_KEYS = ("labels", "hek_cache")
MODEL_FORMAT = "ffnn-classify-1"
#: Modules whose types a saved model may contain; anything else is refused on load.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "builtins.")


class InsufficientDataError(DataError):
    """Too few labelled rows, or one class only: there is nothing to fit."""


class FeatureWarning(UserWarning):
    """A feature column was dropped or filled (all values missing, or absent at prediction)."""


@dataclass(frozen=True)
class ClassifySettings:
    """Settings of the classify stage (the ``classify:`` config block, minus the label source).

    ``features`` None means every numeric column not matched by an ``exclude`` pattern.
    ``class_weight`` defaults to "balanced" because flaring regions are rare and the skill
    scores that matter (TSS) reward finding them, not matching the class ratio.
    """

    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    categorical: tuple[str, ...] = DEFAULT_CATEGORICAL
    threshold_class: str = DEFAULT_THRESHOLD_CLASS
    probability_threshold: float = 0.5
    test_size: float = 0.25
    seed: int = 0
    C: float = 1.0
    solver: str = "lbfgs"
    class_weight: str | None = "balanced"
    imputer_strategy: str = "mean"
    max_iter: int = 1000
    label_tolerance: str = DEFAULT_TOLERANCE
    min_rows: int = 10
    on_insufficient: str = "fail"

    def __post_init__(self) -> None:
        threshold_flux(self.threshold_class)
        if not 0.0 < self.probability_threshold < 1.0:
            raise ConfigError(f"probability_threshold must lie in (0, 1), not {self.probability_threshold}")
        if not 0.0 < self.test_size < 1.0:
            raise ConfigError(f"test_size must lie in (0, 1), not {self.test_size}")
        if not self.C > 0:
            raise ConfigError(f"C must be positive, not {self.C}")
        if self.solver not in SOLVERS:
            raise ConfigError(f"solver {self.solver!r} is not one of {', '.join(SOLVERS)}")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"class_weight must be 'balanced' or none, not {self.class_weight!r}")
        if self.imputer_strategy not in IMPUTER_STRATEGIES:
            raise ConfigError(f"imputer_strategy {self.imputer_strategy!r} is not one of {', '.join(IMPUTER_STRATEGIES)}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be at least 1, not {self.max_iter}")
        if self.min_rows < 4:
            # Two per class is the least a stratified split can divide between train and test.
            raise ConfigError(f"min_rows must be at least 4, not {self.min_rows}")
        if self.on_insufficient not in ON_INSUFFICIENT:
            raise ConfigError(f"on_insufficient must be one of {', '.join(ON_INSUFFICIENT)}, not {self.on_insufficient!r}")
        try:
            pd.Timedelta(self.label_tolerance)
        except ValueError as err:
            raise ConfigError(f"label_tolerance {self.label_tolerance!r} is not a time span like '30min'") from err

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> "ClassifySettings":
        """Settings from a config mapping; unknown keys and wrong types raise ConfigError.

        Label-source keys (``labels``, ``hek_cache``) are accepted and ignored here.
        Lists may also be given as comma-separated strings; ``features: auto`` means None.
        """
        mapping = dict(mapping or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(mapping) - set(known) - set(SOURCE_KEYS))
        if unknown:
            raise ConfigError(f"unknown classify setting(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in mapping.items():
            if name in SOURCE_KEYS:
                continue
            kwargs[name] = _coerce(name, value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-type dict (lists, not tuples) for JSON and for saving with the model."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


def _coerce(name: str, value: Any) -> Any:
    """Convert one config value to the type the settings field wants."""
    try:
        if name in ("features", "exclude", "categorical"):
            if value is None or (name == "features" and isinstance(value, str) and value.strip().lower() in ("", "auto")):
                return None if name == "features" else ()
            if isinstance(value, str):
                value = [v for v in (p.strip() for p in value.split(",")) if v]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if name in ("probability_threshold", "test_size", "C"):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if name in ("seed", "max_iter", "min_rows"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if name == "class_weight":
            if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
                return None
            return str(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError) as err:
        raise ConfigError(f"classify setting {name} has an unusable value {value!r}") from err


# --- tables ------------------------------------------------------------------------------


def read_summary(path: str | os.PathLike) -> pd.DataFrame:
    """Read the tab-separated summary table; identifiers and ``noaa_ars`` stay strings."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"summary table {path} does not exist")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"region": str, "t_rec": str, "noaa_ars": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"summary table {path} is not a readable TSV: {err}") from err
    if table.empty:
        raise DataError(f"summary table {path} has no rows")
    return table


def derive_features(summary: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``summary`` with the derived categoricals ``hemisphere`` and ``multi_region``.

    ``hemisphere`` is "N" for lat >= 0, "S" below; ``multi_region`` is "yes" when
    ``noaa_ars`` lists more than one NOAA number. Either is missing (NaN) where its source
    is, and left alone if the table already has a column of that name.
    """
    table = summary.copy()
    if "hemisphere" not in table.columns:
        lat = pd.to_numeric(table["lat"], errors="coerce") if "lat" in table.columns else pd.Series(np.nan, index=table.index)
        table["hemisphere"] = np.where(lat.isna(), None, np.where(lat >= 0, "N", "S"))
    if "multi_region" not in table.columns:
        if "noaa_ars" in table.columns:
            table["multi_region"] = table["noaa_ars"].map(_multi_region)
        else:
            table["multi_region"] = None
    return table


def _multi_region(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    numbers = [p for p in str(value).replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    if not numbers:
        return None
    return "yes" if len(numbers) > 1 else "no"


def feature_columns(table: pd.DataFrame, settings: ClassifySettings) -> tuple[list[str], list[str]]:
    """The numeric and categorical feature names the settings pick from ``table``.

    Named columns that do not exist raise :class:`ConfigError`; the derived categoricals
    always exist after :func:`derive_features`.
    """
    categorical = list(dict.fromkeys(settings.categorical))
    absent = [c for c in categorical if c not in table.columns]
    if settings.features is not None:
        numeric = list(dict.fromkeys(settings.features))
        absent += [c for c in numeric if c not in table.columns]
    else:
        numeric = [
            c for c in table.columns
            if pd.api.types.is_numeric_dtype(table[c])
            and c not in categorical and c not in RESERVED_COLUMNS
            and not any(fnmatch.fnmatchcase(c, pattern) for pattern in settings.exclude)
        ]
    if absent:
        raise ConfigError(f"feature column(s) not in the summary table: {', '.join(absent)}")
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise ConfigError(f"column(s) named both numeric and categorical: {', '.join(overlap)}")
    return numeric, categorical


def prepare_features(table: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The feature block in the dtypes the pipeline expects.

    Numeric columns become float with +-inf as NaN (a ratio over a zero potential energy
    is unknown, not infinite evidence); categoricals become strings with NaN for missing,
    since SimpleImputer treats only NaN (not None or pd.NA) as missing in object columns.
    """
    out = pd.DataFrame(index=table.index)
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce").astype(float)
        out[column] = values.replace([np.inf, -np.inf], np.nan)
    for column in categorical:
        values = table[column]
        text = values.astype(object).where(values.notna(), np.nan)
        out[column] = text.map(lambda v: v if isinstance(v, float) and np.isnan(v) else str(v)).astype(object)
    return out


def build_pipeline(numeric: list[str], categorical: list[str], settings: ClassifySettings) -> Pipeline:
    """The unfitted preprocessing + logistic-regression pipeline for these columns."""
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy=settings.imputer_strategy)),
            ("scale", MinMaxScaler()),
        ]), list(numeric)))
    if categorical:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), list(categorical)))
    if not transformers:
        raise ConfigError("no feature columns to classify with")
    return Pipeline([
        ("features", ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)),
        ("model", LogisticRegression(C=settings.C, solver=settings.solver, class_weight=settings.class_weight,
                                     max_iter=settings.max_iter, random_state=settings.seed)),
    ])


# --- splitting and scoring ---------------------------------------------------------------


def check_sufficient(y: pd.Series, settings: ClassifySettings) -> None:
    """Raise :class:`InsufficientDataError` (a clear one-line reason) unless ``y`` can be fitted."""
    n = len(y)
    counts = y.value_counts()
    positive = f"flare >= {settings.threshold_class} within 24 h"
    if n < settings.min_rows:
        raise InsufficientDataError(f"only {n} labelled regions; classify needs at least {settings.min_rows} (min_rows)")
    if len(counts) < 2:
        which = "positive" if counts.index[0] == 1 else "negative"
        raise InsufficientDataError(f"all {n} labelled regions are {which} ({positive}: {'yes' if which == 'positive' else 'no'}); "
                                    f"a classifier needs both classes")
    if counts.min() < 2:
        raise InsufficientDataError(f"only {int(counts.min())} labelled region of class {int(counts.idxmin())}; "
                                    f"a stratified split needs at least 2 of each class")


def split_rows(y: pd.Series, settings: ClassifySettings) -> tuple[pd.Index, pd.Index]:
    """Stratified, seeded train/test split of the labelled rows (index labels of ``y``).

    The test share is rounded up to hold at least one row per class, so tiny tables still
    split; the split depends only on the labels, their order and the seed.
    """
    check_sufficient(y, settings)
    n = len(y)
    n_test = max(math.ceil(settings.test_size * n), 2)
    if n - n_test < 2:
        raise InsufficientDataError(f"{n} labelled regions leave fewer than 2 for training at test_size {settings.test_size}")
    train, test = train_test_split(y.index, test_size=n_test, stratify=y.to_numpy(), random_state=settings.seed)
    if y.loc[train].nunique() < 2:
        raise InsufficientDataError("the training split holds one class only; add labelled regions or lower test_size")
    return pd.Index(train), pd.Index(test)


def skill_scores(tn: int, fp: int, fn: int, tp: int) -> dict[str, float]:
    """True skill statistic and Heidke skill score; NaN where a denominator is zero.

    TSS = TP/(TP+FN) - FP/(FP+TN); HSS = 2(TP*TN - FN*FP) / ((TP+FN)(FN+TN) + (TP+FP)(FP+TN)).
    """
    def ratio(num: float, den: float) -> float:
        return float(num) / float(den) if den else float("nan")

    tss = ratio(tp, tp + fn) - ratio(fp, fp + tn)
    hss = ratio(2.0 * (tp * tn - fn * fp), (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    return {"tss": tss, "hss": hss}


def split_metrics(y_true: np.ndarray, y_pred: np.ndarray, majority_class: int) -> dict[str, Any]:
    """Counts, accuracy, the majority-class baseline, confusion matrix, TSS/HSS and residuals.

    ``majority_class`` comes from the training labels: the baseline is what always
    predicting the training majority would score on this split. Residuals are the value
    counts (and proportions) of |y - yhat|, 0 for right and 1 for wrong.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    n = len(y_true)
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    residual = np.abs(y_true - y_pred)
    counts = {str(k): int((residual == k).sum()) for k in (0, 1)}
    return {
        "n": n,
        "n_positive": int(y_true.sum()),
        "accuracy": float((residual == 0).mean()) if n else float("nan"),
        "majority_class": int(majority_class),
        "majority_accuracy": float((y_true == majority_class).mean()) if n else float("nan"),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        **skill_scores(tn, fp, fn, tp),
        "residual_counts": counts,
        "residual_proportions": {k: (v / n if n else float("nan")) for k, v in counts.items()},
    }


# --- fitted model ------------------------------------------------------------------------


@dataclass
class FlareClassifier:
    """A fitted pipeline plus what scoring a new table needs (feature lists, thresholds)."""

    pipeline: Pipeline
    numeric: list[str]
    categorical: list[str]
    probability_threshold: float = 0.5
    threshold_class: str = DEFAULT_THRESHOLD_CLASS
    settings: dict[str, Any] = field(default_factory=dict)

    def features(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The feature block of a summary table; absent feature columns become all-missing
        (the imputer fills them from training statistics) with a warning naming them."""
        table = derive_features(summary)
        absent = [c for c in self.numeric + self.categorical if c not in table.columns]
        if absent:
            warnings.warn(f"feature column(s) absent from the table, scored as missing: {', '.join(absent)}",
                          FeatureWarning, stacklevel=2)
            for column in absent:
                table[column] = np.nan
        return prepare_features(table, self.numeric, self.categorical)

    def predict_proba(self, summary: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (a major flare) for each row."""
        return self.pipeline.predict_proba(self.features(summary))[:, 1]

    def predict(self, summary: pd.DataFrame) -> pd.DataFrame:
        """Per-row ``region, noaa, t_rec, probability, y_pred`` for a summary table."""
        probability = self.predict_proba(summary)
        out = identifiers(summary)
        out["probability"] = probability
        out["y_pred"] = (probability >= self.probability_threshold).astype(int)
        return out

    def coefficients(self) -> pd.DataFrame:
        """Coefficient per feature after encoding (on scaled features), largest |coef| first."""
        names = self.pipeline.named_steps["features"].get_feature_names_out()
        coef = self.pipeline.named_steps["model"].coef_[0]
        table = pd.DataFrame({"feature": names, "coefficient": coef})
        order = np.argsort(-np.abs(coef), kind="stable")
        return table.iloc[order].reset_index(drop=True)

    @property
    def intercept(self) -> float:
        """Intercept of the logistic model."""
        return float(self.pipeline.named_steps["model"].intercept_[0])


def identifiers(summary: pd.DataFrame) -> pd.DataFrame:
    """``region, noaa, t_rec`` of each row (region falls back to the row number)."""
    out = pd.DataFrame(index=summary.index)
    out["region"] = summary["region"] if "region" in summary.columns else [str(i) for i in range(len(summary))]
    out["noaa"] = pd.to_numeric(summary["noaa"], errors="coerce").astype("Int64") if "noaa" in summary.columns else pd.NA
    out["t_rec"] = summary["t_rec"] if "t_rec" in summary.columns else pd.NA
    return out


@dataclass
class FitResult:
    """What one fit produces: the classifier, per-row predictions, metrics, coefficients."""

    model: FlareClassifier
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    coefficients: pd.DataFrame
    dropped: list[str]


def fit_classifier(summary: pd.DataFrame, labels: pd.Series, settings: ClassifySettings) -> FitResult:
    """Fit the pipeline on the train split of the labelled rows and score every row.

    ``labels`` is aligned with ``summary`` (0/1, NaN = unlabelled). Unlabelled rows are
    scored but take no part in fitting or metrics. Columns with no value in any training
    row are dropped with a :class:`FeatureWarning`; deciding that on training rows alone
    keeps the test rows out of every fitted choice.
    """
    labels = pd.Series(labels, index=summary.index, dtype=float)
    table = derive_features(summary)
    numeric, categorical = feature_columns(table, settings)
    labelled = labels.dropna().astype(int)
    train, test = split_rows(labelled, settings)

    features = prepare_features(table, numeric, categorical)
    empty = [c for c in features.columns if features.loc[train, c].isna().all()]
    if empty:
        warnings.warn(f"dropping feature column(s) with no value in any training row: {', '.join(empty)}",
                      FeatureWarning, stacklevel=2)
        numeric = [c for c in numeric if c not in empty]
        categorical = [c for c in categorical if c not in empty]
        if not numeric and not categorical:
            raise DataError("every feature column is empty in the training rows; nothing to classify with")
    pipeline = build_pipeline(numeric, categorical, settings)
    pipeline.fit(features.loc[train, numeric + categorical], labelled.loc[train].to_numpy())

    model = FlareClassifier(pipeline, numeric, categorical, settings.probability_threshold,
                            settings.threshold_class, settings.to_dict())
    predictions = identifiers(summary)
    predictions["y_true"] = labels.astype("Int64")
    predictions["probability"] = pipeline.predict_proba(features[numeric + categorical])[:, 1]
    predictions["y_pred"] = (predictions["probability"] >= settings.probability_threshold).astype(int)
    predictions["split"] = "unlabelled"
    predictions.loc[train, "split"] = "train"
    predictions.loc[test, "split"] = "test"

    majority = int(labelled.loc[train].value_counts().sort_index().idxmax())
    metrics: dict[str, Any] = {
        "status": "fitted",
        "positive_class": f"flare >= {settings.threshold_class} within 24 h after t_rec",
        "probability_threshold": settings.probability_threshold,
        "n_rows": int(len(summary)),
        "n_labelled": int(len(labelled)),
        "n_unlabelled": int(len(summary) - len(labelled)),
        "features": {"numeric": numeric, "categorical": categorical, "dropped_empty": empty},
        "intercept": model.intercept,
        "settings": settings.to_dict(),
    }
    for name, rows in (("train", train), ("test", test)):
        metrics[name] = split_metrics(labelled.loc[rows].to_numpy(), predictions.loc[rows, "y_pred"].to_numpy(), majority)
    return FitResult(model, predictions[["region", "noaa", "t_rec", "y_true", "probability", "y_pred", "split"]],
                     metrics, model.coefficients(), empty)


# --- files -------------------------------------------------------------------------------


def _atomic_path(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _replace_or_clean(tmp: Path, path: Path, writer) -> None:
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a TSV atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    _replace_or_clean(_atomic_path(path), path, lambda tmp: frame.to_csv(tmp, sep="\t", index=False, na_rep=""))


def _json_safe(value: Any) -> Any:
    # Strict JSON has no NaN; null says "undefined" (e.g. TSS with no positives).
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(data: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write JSON atomically, NaN and inf as null."""
    path = Path(path)
    text = json.dumps(_json_safe(dict(data)), indent=2, allow_nan=False) + "\n"
    _replace_or_clean(_atomic_path(path), path, lambda tmp: tmp.write_text(text))


def save_model(model: FlareClassifier, path: str | os.PathLike) -> None:
    """Save the fitted pipeline and its scoring settings with skops, atomically."""
    import skops.io as sio

    bundle = {
        "format": MODEL_FORMAT,
        "pipeline": model.pipeline,
        "numeric": list(model.numeric),
        "categorical": list(model.categorical),
        "probability_threshold": float(model.probability_threshold),
        "threshold_class": str(model.threshold_class),
        "settings": _json_safe(model.settings),
    }
    path = Path(path)
    _replace_or_clean(_atomic_path(path), path, lambda tmp: sio.dump(bundle, tmp))


def load_model(path: str | os.PathLike) -> FlareClassifier:
    """Load a model saved by :func:`save_model`.

    Only types from scikit-learn, numpy and builtins are trusted; a file holding anything
    else is refused with a :class:`DataError` naming the types, since loading it could run
    code the file chose.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {path} does not exist")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # skops raises assorted errors for files that are not its format
        raise DataError(f"model file {path} is not a skops file: {err}") from err
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_MODULE_PREFIXES)]
    if foreign:
        raise DataError(f"model file {path} holds untrusted types: {', '.join(foreign)}")
    bundle = sio.load(path, trusted=list(untrusted))
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise DataError(f"model file {path} is not an ffnn classify model")
    return FlareClassifier(bundle["pipeline"], list(bundle["numeric"]), list(bundle["categorical"]),
                           float(bundle["probability_threshold"]), str(bundle["threshold_class"]),
                           dict(bundle.get("settings") or {}))


def write_outputs(result: FitResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write predictions.tsv, metrics.json, coefficients.tsv and model.skops into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("predictions.tsv", "metrics.json", "coefficients.tsv", "model.skops")}
    write_table(result.predictions, paths["predictions.tsv"])
    write_table(result.coefficients, paths["coefficients.tsv"])
    save_model(result.model, paths["model.skops"])
    write_json(result.metrics, paths["metrics.json"])  # last: its presence marks a finished run
    return paths


def write_insufficient(summary: pd.DataFrame, labels: pd.Series, reason: str, settings: ClassifySettings,
                       out_dir: str | os.PathLike) -> dict[str, Path]:
    """Outputs for a run with too little to fit: labels, empty predictions, and the reason.

    Used when ``on_insufficient`` is "skip", so a workflow with few labelled regions still
    finishes and says why no model exists (no model.skops is written).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A model left by an earlier fit in the same directory would contradict metrics.json.
    (out / "model.skops").unlink(missing_ok=True)
    predictions = identifiers(summary)
    predictions["y_true"] = pd.Series(labels, index=summary.index, dtype=float).astype("Int64")
    predictions["probability"] = np.nan
    predictions["y_pred"] = pd.NA
    predictions["split"] = "not_fitted"
    paths = {name: out / name for name in ("predictions.tsv", "metrics.json", "coefficients.tsv")}
    write_table(predictions, paths["predictions.tsv"])
    write_table(pd.DataFrame({"feature": [], "coefficient": []}), paths["coefficients.tsv"])
    write_json({"status": "insufficient", "reason": reason, "n_rows": int(len(summary)),
                "n_labelled": int(pd.Series(labels).notna().sum()), "settings": settings.to_dict()},
               paths["metrics.json"])
    return paths
