"""The flare forecast model: P(flare >= M1.0 within 24 h) of a SHARP record.

One scikit-learn Pipeline goes from a raw table (a SHARP keyword table or the workflow's
summary table) to a probability::

    KeywordFeatures      log10 |x| of the skewed keywords (USFLUX, TOTUSJH, TOTPOT, ...),
                         |LON_FWT|, hemisphere and multi-region flags, keyword or summary names;
                         the flare history (log10 peak flux of the largest flare of the
                         region in the 24 h before T_REC, and whether there was one)
    ColumnTransformer    numeric: SimpleImputer -> StandardScaler
                         categorical: SimpleImputer("missing") -> OneHotEncoder
    LogisticRegression   unweighted by default, so its probabilities are calibrated

so the saved model (:func:`save_model`, skops) scores a raw table on its own. The flare
history is a column of that table (``flare_history_24h``: peak flux in W m^-2, 0 for no
flare), computed from a GOES event list by :func:`ffnn.forecast.labels.add_flare_history`; a table
without it is refused (a missing history is never taken as "no flare"). The decision
threshold is chosen on the training rows alone: the one of maximal TSS (= Youden's J,
tpr - fpr) over out-of-fold probabilities of a cross-validation grouped by HARP
(:func:`fit_model`); it is stored with the model. How well the whole procedure forecasts is
measured in :mod:`ffnn.forecast.verification`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import atomic_write, plain
from ffnn.io.keywords import column, noaa_numbers, records
from ffnn.forecast.labels import DEFAULT_THRESHOLD_CLASS, DEFAULT_WINDOW, HISTORY_STEM, history_column, threshold_flux, \
    window_timedelta
from ffnn.util.settings import from_mapping

log = logging.getLogger(__name__)

#: Extensive keywords (sums over the region: grow with its size) and the positive means,
#: all right-skewed over orders of magnitude: used as log10 |x|. The signed means (MEANJZD,
#: MEANALP, MEANJZH) enter by magnitude, which is what a flare feeds on.
LOG_KEYWORDS = (
    "USFLUX", "TOTUSJZ", "TOTUSJH", "ABSNJZH", "SAVNCPP", "TOTPOT",
    "MEANGAM", "MEANGBT", "MEANGBZ", "MEANGBH", "MEANPOT", "MEANSHR",
    "MEANJZD", "MEANALP", "MEANJZH",
)
#: Derived numeric feature: |LON_FWT| (deg), the distance from central meridian that
#: projection effects on the keywords grow with.
ABS_LON = "abs_lon"
DEFAULT_FEATURES = LOG_KEYWORDS + ("SHRGT45", ABS_LON)
#: Default flare-history window (None: no history feature). Chosen on the grouped 5-fold
#: cross-validation (x 5) of the 2010-2013 records: windows of 6/12/24/48/72 h gave TSS
#: 0.552/0.562/0.576/0.563/0.548 (no history: 0.513); 24 h is also the forecasters' usual one.
DEFAULT_HISTORY = "24h"
#: Peak flux that stands for "no flare" (W m^-2, A1.0, the smallest GOES class) in the log of
#: the history; the ``_any`` flag beside it lets the fit place "no flare" where the data say.
HISTORY_FLOOR = 1e-8
#: Derived categoricals: multi_region (yes/no: NOAA_ARS lists more than one NOAA region) and
#: hemisphere (N/S from LAT_FWT). Only multi_region by default: the hemisphere added noise in
#: the grouped cross-validation of the 2010-2013 records (TSS 0.504 with it, 0.513 without).
DERIVED_CATEGORICAL = ("multi_region", "hemisphere")
DEFAULT_CATEGORICAL = ("multi_region",)
#: The keyword each derived feature comes from (the others are keywords themselves).
SOURCE_COLUMNS = {ABS_LON: "LON_FWT", "hemisphere": "LAT_FWT", "multi_region": "NOAA_ARS"}
MISSING_CATEGORY = "missing"
IMPUTER_STRATEGIES = ("mean", "median")
#: Keys of the workflow's classify block that choose inputs, not the model; accepted and ignored.
WORKFLOW_KEYS = ("enabled", "table", "events", "events_cache", "predict_regions")
MODEL_FORMAT = "ffnn-classify-2"
#: Types a saved model may hold: scikit-learn, numpy, builtins, and this module's transformer.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "builtins.")
TRUSTED_TYPES = ("ffnn.forecast.classify.KeywordFeatures",)


class InsufficientDataError(DataError):
    """Too few labelled rows, too few regions, or one class only: there is nothing to fit."""


class FeatureWarning(UserWarning):
    """A feature column was dropped or filled (no value in training, or absent when scoring)."""


@dataclass(frozen=True)
class ClassifySettings:
    """Settings of the flare forecast (the ``classify:`` config block).

    Parameters
    ----------
    features : tuple of str, optional
        Numeric features: SHARP keywords (USFLUX, TOTUSJH, ..., SHRGT45) or ``abs_lon``
        (|longitude|, deg). Default :data:`DEFAULT_FEATURES`.
    log_features : tuple of str, optional
        Those of ``features`` used as log10 |x|. Default :data:`LOG_KEYWORDS`.
    categorical : tuple of str, optional
        Derived categorical columns (``multi_region``). Default ``("multi_region",)``.
    flare_history : str, optional
        Window of the flare-history features (persistence; :func:`history_features`),
        e.g. ``"24h"``; None: none. Default ``"24h"``.
    threshold_class : str, optional
        The GOES class forecast, at least this peak flux. Default ``"M1.0"``.
    window : str, optional
        The forecast window after each record. Default ``"24h"``.
    C : float, optional
        Inverse L2 regularisation strength of the logistic regression. Default 1.
    class_weight : {None, "balanced"}, optional
        None keeps the probabilities calibrated; "balanced" does not. Default None.
    imputer_strategy : str, optional
        scikit-learn's SimpleImputer strategy for missing keywords. Default "median".
    max_iter : int, optional
        Solver iterations at most. Default 1000.
    folds : int, optional
        Cross-validation folds, grouped by HARP (also for choosing the threshold).
        Default 5.
    repeats : int, optional
        Repeats of the grouped cross-validation. Default 5.
    seed : int, optional
        Seed of the fold assignment. Default 0.
    split_date : str, optional
        Time split: train on records whose label window closes by then, test on records
        from then on. None (default): no time split.
    min_rows : int, optional
        Fewest labelled records to fit on. Default 20.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For an unknown flare class, window, feature or a setting out of range.

    Notes
    -----
    Keyword features after Bobra & Couvidat (2015, ApJ 798, 135); persistence after
    Florios et al. (2018, Sol. Phys. 293, 28). Validation grouped by region and by time,
    as verification studies do (Leka et al. 2019, ApJS 243, 36).
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    log_features: tuple[str, ...] = LOG_KEYWORDS
    categorical: tuple[str, ...] = DEFAULT_CATEGORICAL
    flare_history: str | None = DEFAULT_HISTORY
    threshold_class: str = DEFAULT_THRESHOLD_CLASS
    window: str = DEFAULT_WINDOW
    C: float = 1.0
    class_weight: str | None = None
    imputer_strategy: str = "median"
    max_iter: int = 1000
    folds: int = 5
    repeats: int = 5
    seed: int = 0
    split_date: str | None = None
    min_rows: int = 20

    def __post_init__(self) -> None:
        threshold_flux(self.threshold_class)
        window_timedelta(self.window)
        if not self.features and not self.categorical:
            raise ConfigError("classify needs at least one feature or categorical column")
        unknown = sorted(set(self.categorical) - set(DERIVED_CATEGORICAL))
        if unknown:
            raise ConfigError(f"categorical column(s) {', '.join(unknown)} unknown; "
                              f"derived categoricals are {', '.join(DERIVED_CATEGORICAL)}")
        history = [f for f in self.features if f.startswith(HISTORY_STEM)]
        if history:
            raise ConfigError(f"feature(s) {', '.join(history)}: the flare history is set by flare_history "
                              f"(a window such as 24h, or none), not listed in features")
        if self.flare_history is not None:
            window_timedelta(self.flare_history)
        stray = sorted(set(self.log_features) - set(self.features))
        if stray:
            raise ConfigError(f"log_features {', '.join(stray)} are not in features")
        if not self.C > 0:
            raise ConfigError(f"C must be positive, not {self.C}")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"class_weight must be 'balanced' or none, not {self.class_weight!r}")
        if self.imputer_strategy not in IMPUTER_STRATEGIES:
            raise ConfigError(f"imputer_strategy {self.imputer_strategy!r} is not one of {', '.join(IMPUTER_STRATEGIES)}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be at least 1, not {self.max_iter}")
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, not {self.folds}")
        if self.repeats < 1:
            raise ConfigError(f"repeats must be at least 1, not {self.repeats}")
        if self.split_date is not None:
            split_timestamp(self.split_date)
        if self.min_rows < 4:
            raise ConfigError(f"min_rows must be at least 4, not {self.min_rows}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> "ClassifySettings":
        """Settings from a config mapping; unknown keys and unusable values raise ConfigError.

        The workflow's input keys (:data:`WORKFLOW_KEYS`) are accepted and ignored. Lists may
        be comma-separated strings; null ``split_date`` or ``class_weight`` means none.
        """
        mapping = dict(mapping or {})
        history = mapping.get("flare_history")  # also a switch: true is the default window
        if isinstance(history, bool) or (isinstance(history, str) and history.strip().lower() in ("off", "false", "no")):
            mapping["flare_history"] = DEFAULT_HISTORY if history is True else None
        return from_mapping(cls, mapping, "classify setting", ignore=WORKFLOW_KEYS)

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """``features`` and the flare-history features: the numeric columns of the model."""
        return self.features + history_features(self.flare_history)

    def to_dict(self) -> dict[str, Any]:
        """Plain-type dict (lists, not tuples) for JSON and for saving with the model."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def split_timestamp(split_date: str) -> pd.Timestamp:
    """The time-split date (``2014-01-01``, any ISO form) as a UTC Timestamp; ConfigError otherwise."""
    try:
        stamp = pd.Timestamp(str(split_date))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"split_date {split_date!r} is not a date like 2014-01-01") from err
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# ---------------------------------------------------------------- features


def history_features(window: str | None) -> tuple[str, ...]:
    """The model's flare-history features for a window: ``()`` for None, else
    ``(flare_history_24h, flare_history_24h_any)``: log10 of the peak flux (W m^-2) of the
    largest flare in the window (:data:`HISTORY_FLOOR` for none) and 1/0 for any flare. Both
    are read from the table's column :func:`ffnn.forecast.labels.history_column` (peak flux, 0 = none)."""
    if window is None:
        return ()
    name = history_column(window)
    return name, f"{name}_any"


class KeywordFeatures(TransformerMixin, BaseEstimator):
    """Raw keyword or summary table -> the model's feature block (a DataFrame).

    Numeric features are read under their keyword name or summary-table name (``LON_FWT`` /
    ``lon``), as float, with ``log`` ones as log10 |x| (0 -> missing) and +-inf as missing.
    Derived: ``abs_lon`` = |LON_FWT|; categoricals ``hemisphere`` (N for LAT_FWT >= 0, else
    S) and ``multi_region`` (yes/no from NOAA_ARS), missing (NaN) where their source is. A
    feature whose column is absent is all missing (the imputer fills it from training) and
    is named in a :class:`FeatureWarning` (:meth:`FlareModel.predict` refuses such a table);
    a non-numeric value in a numeric feature's column raises :class:`DataError` naming the
    column; except the flare history (``history``: its
    window, :func:`history_features`), whose absence raises :class:`DataError`: imputing it
    would forecast every region as if it had a typical past. Stateless: ``fit`` only checks
    the table.
    """

    def __init__(self, numeric=DEFAULT_FEATURES, log=LOG_KEYWORDS, categorical=DEFAULT_CATEGORICAL, history=None):
        self.numeric = numeric
        self.log = log
        self.categorical = categorical
        self.history = history

    def fit(self, X: pd.DataFrame, y=None) -> "KeywordFeatures":
        if not isinstance(X, pd.DataFrame):
            raise DataError("KeywordFeatures needs a pandas DataFrame (a keyword or summary table)")
        return self

    def absent(self, X: pd.DataFrame) -> list[str]:
        """The features (not the flare history) whose source column ``X`` lacks entirely,
        each as ``feature`` or, when it comes from another column, ``feature (from COLUMN)``."""
        history = history_features(getattr(self, "history", None))
        out = []
        for name in [*self.numeric, *self.categorical]:
            source = SOURCE_COLUMNS.get(name, name)
            if name not in history and column(X, source) is None:
                out.append(name if source == name else f"{name} (from {source})")
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=X.index)
        absent = []
        window = getattr(self, "history", None)  # also None in models saved before the flare history
        history = [f for f in history_features(window) if f in self.numeric]
        if history:
            out = out.join(_history(X, window)[history])
        for name in self.numeric:
            if name in history:
                continue
            source = column(X, SOURCE_COLUMNS.get(name, name))
            if source is None:
                absent.append(name)
                out[name] = np.nan
                continue
            values = pd.to_numeric(source, errors="coerce").astype(float)
            text = source.astype(str).str.strip()
            bad = source.notna() & values.isna() & (text != "") & ~text.str.lower().isin(("nan", "na", "none", "null"))
            if bad.any():
                raise DataError(f"feature column {source.name} holds {int(bad.sum())} non-numeric value(s), "
                                f"e.g. {text[bad].iloc[0]!r}; numbers or empty cells only")
            if name == ABS_LON:
                values = values.abs()
            elif name in self.log:
                with np.errstate(divide="ignore"):
                    values = np.log10(values.abs())
            out[name] = values.replace([np.inf, -np.inf], np.nan)
        for name in self.categorical:
            values = _categorical(X, name)
            if values is None:
                absent.append(name)
                values = pd.Series(np.nan, index=X.index, dtype=object)
            out[name] = values
        if absent:
            warnings.warn(f"feature column(s) absent from the table, taken as missing: {', '.join(absent)}",
                          FeatureWarning, stacklevel=2)
        return out[list(self.numeric) + list(self.categorical)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(list(self.numeric) + list(self.categorical), dtype=object)


def _history(table: pd.DataFrame, window: str) -> pd.DataFrame:
    """The flare-history features of ``window`` (:func:`history_features`) from the table's
    peak-flux column; NaN where it is (unknown); :class:`DataError` if there is no such column."""
    name, flag = history_features(window)
    if name not in table.columns:
        raise DataError(f"the table has no {name} column (peak GOES flux in W m^-2 of the largest flare of the "
                        f"HARP's NOAA regions before T_REC, 0 for none), which the model forecasts with; "
                        f"compute it from a GOES event list (ffnn.forecast.labels.add_flare_history, or --events)")
    flux = pd.to_numeric(table[name], errors="coerce").astype(float)
    flux = flux.where(flux >= 0)
    return pd.DataFrame({name: np.log10(flux.clip(lower=HISTORY_FLOOR)),
                         flag: (flux > 0).astype(float).where(flux.notna())}, index=table.index)


def _categorical(table: pd.DataFrame, name: str) -> pd.Series | None:
    """A derived categorical as object values with NaN for missing (what SimpleImputer expects)."""
    if name == "hemisphere":
        lat = column(table, SOURCE_COLUMNS[name])
        if lat is None:
            return None
        lat = pd.to_numeric(lat, errors="coerce")
        values = pd.Series(np.where(lat >= 0, "N", "S"), index=table.index, dtype=object)
        return values.where(lat.notna(), np.nan)
    ars = column(table, SOURCE_COLUMNS[name])
    if ars is None:
        return None
    counts = ars.map(lambda v: len(noaa_numbers(v)))
    values = pd.Series(np.where(counts > 1, "yes", "no"), index=table.index, dtype=object)
    return values.where(counts > 0, np.nan)


def build_pipeline(settings: ClassifySettings, numeric: list[str], categorical: list[str]) -> Pipeline:
    """The unfitted pipeline: raw table -> features -> impute/scale/one-hot -> LogisticRegression."""
    encoders = []
    if numeric:
        encoders.append(("numeric", Pipeline([("impute", SimpleImputer(strategy=settings.imputer_strategy)),
                                              ("scale", StandardScaler())]), list(numeric)))
    if categorical:
        encoders.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), list(categorical)))
    if not encoders:
        raise DataError("no feature column is left to classify with")
    log_features = tuple(f for f in settings.log_features if f in numeric)
    return Pipeline([
        ("derive", KeywordFeatures(tuple(numeric), log_features, tuple(categorical), settings.flare_history)),
        ("encode", ColumnTransformer(encoders, remainder="drop", verbose_feature_names_out=False)),
        ("model", LogisticRegression(C=settings.C, class_weight=settings.class_weight, max_iter=settings.max_iter)),
    ])


# ---------------------------------------------------------------- fitting


def check_sufficient(y: pd.Series, groups: pd.Series, settings: ClassifySettings, what: str = "labelled records") -> None:
    """Raise :class:`InsufficientDataError` (one line) unless ``y`` can be fitted with grouped folds."""
    n = len(y)
    positive = f"flare >= {settings.threshold_class} within {settings.window}"
    if n < settings.min_rows:
        raise InsufficientDataError(f"only {n} {what}; classify needs at least {settings.min_rows} (min_rows)")
    counts = y.value_counts()
    if len(counts) < 2:
        which = "positive" if counts.index[0] == 1 else "negative"
        raise InsufficientDataError(f"all {n} {what} are {which} ({positive}: "
                                    f"{'yes' if which == 'positive' else 'no'}); a classifier needs both classes")
    for label, name in ((1, "positive"), (0, "negative")):
        regions = groups[y == label].nunique()
        if regions < 2:
            raise InsufficientDataError(f"the {what} hold {name} records of {regions} region(s) only; "
                                        f"folds grouped by region need at least 2")


def grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds grouped by region: no HARP has records on both sides of a split.

    ``folds`` is lowered to the number of regions holding positive records when that is
    smaller, so that every test fold can hold a positive.
    """
    n_splits = max(2, min(folds, int(pd.Series(groups[y == 1]).nunique()), int(pd.Series(groups).nunique())))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def tss_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The probability threshold of maximal TSS = tpr - fpr (Youden's J) on these forecasts.

    A record is forecast positive when its probability is >= the threshold (roc_curve's
    convention). Without any threshold of positive TSS, the base rate is returned.
    """
    fpr, tpr, thresholds = roc_curve(y, probability)
    best = int(np.argmax(tpr - fpr))
    if not np.isfinite(thresholds[best]) or tpr[best] - fpr[best] <= 0:
        return float(np.mean(y))
    return float(thresholds[best])


@dataclass
class FlareModel:
    """A fitted flare forecast: the pipeline, its decision threshold and what it forecasts.

    Made by :func:`fit_model`; saved and read with :func:`save_model`, :func:`load_model`.

    Parameters
    ----------
    pipeline : `sklearn.pipeline.Pipeline`
        Feature derivation, imputation, scaling and the logistic regression.
    threshold : float
        Forecast "yes" at probability >= threshold (chosen to maximise the TSS in the
        cross-validation).
    base_rate : float
        The event rate of the training rows (the climatology of the Brier skill score).
    threshold_class : str, optional
        The GOES class forecast (at least). Default ``"M1.0"``.
    window : str, optional
        The forecast window. Default ``"24h"``.
    details : dict, optional
        What the fit recorded (features used, rows, settings).
    """

    pipeline: Pipeline
    threshold: float
    base_rate: float
    threshold_class: str = DEFAULT_THRESHOLD_CLASS
    window: str = DEFAULT_WINDOW
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def numeric(self) -> list[str]:
        return list(self.pipeline.named_steps["derive"].numeric)

    @property
    def categorical(self) -> list[str]:
        return list(self.pipeline.named_steps["derive"].categorical)

    @property
    def history(self) -> str | None:
        """Window of the flare-history features the model forecasts with; None: none."""
        return getattr(self.pipeline.named_steps["derive"], "history", None)  # absent in models saved before it

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        """Probability of a flare >= ``threshold_class`` within ``window`` for each row of a raw table."""
        return self.pipeline.predict_proba(table)[:, 1]

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """``[region,] harpnum, t_rec, probability, predicted`` per row of a raw table.

        Rows with none of the keyword features (e.g. a Low & Lou row of a summary table),
        and rows of unknown flare history (NaN in its column) when the model uses one, are
        not scored: probability NaN, predicted empty, and a :class:`FeatureWarning`. A table
        without the flare-history column, or without a feature's column altogether (a
        wrong table, not a record without keywords), is refused with a :class:`DataError`
        naming the column(s); so is a non-numeric value in a numeric feature's column.
        """
        absent = self.pipeline.named_steps["derive"].absent(table)
        if absent:
            raise DataError(f"the table has no column for the model's feature(s) {', '.join(absent)}; "
                            "give a SHARP keyword table or summary table with these keywords")
        ids = records(table)
        out = ids[[c for c in ("region", "harpnum", "t_rec") if c in ids.columns]].copy()
        probability = pd.Series(self.predict_proba(table), index=table.index)
        derived = self.pipeline.named_steps["derive"]
        history = list(history_features(self.history))
        keywords = [f for f in self.numeric if f not in history]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FeatureWarning)  # predict_proba has said it
            block = derived.transform(table)
        blank = block[keywords].isna().all(axis=1) if keywords else pd.Series(False, index=table.index)
        if blank.any():
            warnings.warn(f"{int(blank.sum())} row(s) hold none of the model's features and are not scored",
                          FeatureWarning, stacklevel=2)
        unknown = block[history].isna().any(axis=1) & ~blank if history else pd.Series(False, index=table.index)
        if unknown.any():
            warnings.warn(f"{int(unknown.sum())} row(s) have no known flare history ({history_column(self.history)} "
                          f"empty: no NOAA number, or outside the event list) and are not scored",
                          FeatureWarning, stacklevel=2)
        blank |= unknown
        out["probability"] = probability.mask(blank)
        out["predicted"] = (probability >= self.threshold).astype("Int64").mask(blank)
        return out

    def coefficients(self) -> pd.DataFrame:
        """Coefficient per encoded feature (per standard deviation of the feature), largest |coef| first."""
        names = self.pipeline.named_steps["encode"].get_feature_names_out()
        coef = self.pipeline.named_steps["model"].coef_[0]
        table = pd.DataFrame({"feature": names, "coefficient": coef})
        return table.iloc[np.argsort(-np.abs(coef), kind="stable")].reset_index(drop=True)

    @property
    def intercept(self) -> float:
        return float(self.pipeline.named_steps["model"].intercept_[0])


def usable_features(table: pd.DataFrame, settings: ClassifySettings) -> tuple[list[str], list[str]]:
    """The features that can inform a fit on ``table`` (the training rows).

    Dropped with a :class:`FeatureWarning`: columns with no value in any row, and
    categoricals with one value in every row (a one-hot column equal to the intercept would
    only split it, and show a coefficient that means nothing). Deciding on the training
    rows alone keeps the test rows out of every choice. Rows of unknown flare history are
    refused (:class:`DataError`): the caller leaves them out rather than impute a past.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeatureWarning)
        block = KeywordFeatures(settings.numeric_features, settings.log_features, settings.categorical,
                                settings.flare_history).transform(table)
    history = list(history_features(settings.flare_history))
    unknown = int(block[history].isna().any(axis=1).sum()) if history else 0
    if unknown:
        raise DataError(f"{unknown} training record(s) have no known flare history "
                        f"({history_column(settings.flare_history)} empty); leave them out or set flare_history: none")
    empty = [c for c in block.columns if block[c].isna().all()]
    if empty:
        warnings.warn(f"dropping feature column(s) with no value in any training row: {', '.join(empty)}",
                      FeatureWarning, stacklevel=2)
    single = [c for c in settings.categorical if c not in empty and block[c].nunique(dropna=False) == 1]
    if single:
        values = ", ".join(f"{c} ({block[c].iloc[0]})" for c in single)
        warnings.warn(f"dropping categorical column(s) with one value in every training row: {values}",
                      FeatureWarning, stacklevel=2)
    numeric = [c for c in settings.numeric_features if c not in empty]
    categorical = [c for c in settings.categorical if c not in empty + single]
    if not numeric and not categorical:
        raise DataError("every feature column is empty in the training rows; nothing to classify with")
    return numeric, categorical


def fit_model(table: pd.DataFrame, y: pd.Series, groups: pd.Series, settings: ClassifySettings,
              seed: int | None = None) -> FlareModel:
    """Fit the pipeline on ``table``'s rows and choose its threshold on their grouped folds.

    Parameters
    ----------
    table : pandas.DataFrame
        Raw keyword or summary table rows (the training rows only).
    y : pandas.Series
        0/1 labels aligned with ``table``.
    groups : pandas.Series
        Region (HARPNUM) of each row: the threshold's cross-validation never splits one.
    settings : ClassifySettings
    seed : int, optional
        Seed of the threshold folds (default ``settings.seed``).

    Returns
    -------
    FlareModel
        Fitted on every row; threshold of maximal TSS over the out-of-fold probabilities of
        ``settings.folds`` grouped folds; base rate = mean of ``y`` (the climatology).

    Raises
    ------
    InsufficientDataError
        Too few rows or regions, or one class only.
    """
    y = pd.Series(y, index=table.index).astype(int)
    groups = pd.Series(groups, index=table.index)
    check_sufficient(y, groups, settings)
    numeric, categorical = usable_features(table, settings)
    pipeline = build_pipeline(settings, numeric, categorical)
    folds = grouped_folds(y.to_numpy(), groups.to_numpy(), settings.folds, settings.seed if seed is None else seed)
    # One BLAS thread: on a few dozen columns, thread start-up and spinning cost more than
    # the solve (a fit on the shipped table: 0.1 s on one thread, 1.4 s on two busy cores).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", FeatureWarning)  # said once by usable_features / the caller
        try:
            oof = cross_val_predict(pipeline, table, y.to_numpy(), cv=folds, method="predict_proba")[:, 1]
        except ValueError as err:  # a training fold with one class
            raise InsufficientDataError(f"a grouped fold could not be fitted ({err}); add labelled regions") from err
        pipeline.fit(table, y.to_numpy())
    threshold = tss_threshold(y.to_numpy(), oof)
    return FlareModel(pipeline, threshold, float(y.mean()), settings.threshold_class, settings.window,
                      {"n_train": int(len(y)), "n_train_positive": int(y.sum()), "n_regions": int(groups.nunique()),
                       "threshold_folds": len(folds), "settings": settings.to_dict()})


# ---------------------------------------------------------------- saving


def save_model(model: FlareModel, path: str | os.PathLike) -> Path:
    """Save a flare forecast with skops (a format that runs no code on loading).

    Parameters
    ----------
    model : FlareModel
        The fitted forecast.
    path : path-like
        The file (``model.skops``), written whole (temporary name, then renamed).

    Returns
    -------
    `pathlib.Path`
        ``path``: the pipeline, threshold, base rate, class and window.
    """
    import skops.io as sio

    bundle = {
        "format": MODEL_FORMAT,
        "pipeline": model.pipeline,
        "threshold": float(model.threshold),
        "base_rate": float(model.base_rate),
        "threshold_class": str(model.threshold_class),
        "window": str(model.window),
        "details": plain(model.details),
    }
    return atomic_write(path, lambda tmp: sio.dump(bundle, tmp))


def load_model(path: str | os.PathLike) -> FlareModel:
    """A flare forecast saved by :func:`save_model`.

    Parameters
    ----------
    path : path-like
        The ``model.skops`` file.

    Returns
    -------
    FlareModel
        The fitted pipeline with its threshold, base rate, class and window.

    Raises
    ------
    ffnn.util.errors.DataError
        When the file cannot be read, is not an ffnn forecast, or holds types other
        than scikit-learn's, numpy's, builtins and :class:`KeywordFeatures` (loading it
        could run code the file chose); the message names the types.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {path} does not exist")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # skops raises assorted errors for files that are not its format
        raise DataError(f"model file {path} is not a skops file: {err}") from err
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_MODULE_PREFIXES) and t not in TRUSTED_TYPES]
    if foreign:
        raise DataError(f"model file {path} holds untrusted types: {', '.join(foreign)}")
    bundle = sio.load(path, trusted=list(untrusted))
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise DataError(f"model file {path} is not an ffnn classify model (format {MODEL_FORMAT})")
    return FlareModel(bundle["pipeline"], float(bundle["threshold"]), float(bundle["base_rate"]),
                      str(bundle["threshold_class"]), str(bundle["window"]), dict(bundle.get("details") or {}))
