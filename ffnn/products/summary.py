"""Summary rows of regions, the summary table, and the Low & Lou benchmark table.

A *row* describes one region after the workflow's per-region steps: identifiers, the
reference-free figures of merit of the model cube (``ffnn quality``), the volume
averages of the height profiles, the final loss terms and wall time of the training
(``train.json``), the SHARP keywords of the record (``ffnn resolve -o``), and for
benchmark regions the comparison with the reference field (model and potential field).

:func:`region_row` builds it, :func:`write_row` stores it as JSON; :func:`summary_table`
gathers rows into the table written by :func:`write_summary` (TSV, NetCDF, JSON).
:func:`lowlou_table` renders the benchmark rows beside the published ones (the metrics of
Schrijver et al. 2006, Sol. Phys. 235, 161; docs page "Benchmarks",
docs/explanation/benchmarks.md).
Every column and its unit is listed in :data:`COLUMNS` (the README repeats it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ffnn.util.errors import DataError
from ffnn.util.files import read_json, write_csv, write_json, write_netcdf

# Space-weather keywords of SHARP records (Bobra et al. 2014) with JSOC's units, in
# UDUNITS' spelling (maxwell, gauss, degree); R_VALUE is log10 of a flux in Mx (a number),
# AREA_ACR in millionths of the solar hemisphere.
SHARP_KEYWORD_UNITS = {
    "USFLUX": "maxwell", "MEANGAM": "degree", "MEANGBT": "gauss Mm-1", "MEANGBZ": "gauss Mm-1",
    "MEANGBH": "gauss Mm-1", "MEANJZD": "mA m-2", "TOTUSJZ": "A", "MEANALP": "Mm-1",
    "MEANJZH": "gauss2 m-1", "TOTUSJH": "gauss2 m-1", "ABSNJZH": "gauss2 m-1", "SAVNCPP": "A",
    "MEANPOT": "erg cm-3", "TOTPOT": "erg cm-1", "MEANSHR": "degree", "SHRGT45": "percent",
    "R_VALUE": "1", "AREA_ACR": "1e-6",
    "ERRVF": "maxwell", "ERRGAM": "degree", "ERRBT": "gauss Mm-1", "ERRBZ": "gauss Mm-1", "ERRBH": "gauss Mm-1",
    "ERRJZ": "mA m-2", "ERRUSI": "A", "ERRALP": "Mm-1", "ERRMIH": "gauss2 m-1", "ERRTUI": "gauss2 m-1",
    "ERRTAI": "gauss2 m-1", "ERRJHT": "A", "ERRMPOT": "erg cm-3", "ERRTPOT": "erg cm-1",
    "ERRMSHA": "degree",
}
KEYWORD_NOTES = {"R_VALUE": "log10 of the unsigned flux near polarity inversion lines in Mx",
                 "AREA_ACR": "area of the active pixels in millionths of the solar hemisphere"}

# name -> (unit, description). Order is the column order of the table.
COLUMNS: dict[str, tuple[str, str]] = {
    "region": ("", "region id: ar<NOAA>_<YYYYmmddTHHMM> for a sheet row, the case name for Low & Lou"),
    "kind": ("", "sharp (a SHARP record) or lowlou (a Low & Lou benchmark field)"),
    "noaa": ("", "NOAA active-region number asked for"),
    "harpnum": ("", "HARP number of the SHARP record"),
    "t_rec": ("", "T_REC of the SHARP record (JSOC form, TAI)"),
    "t_rec_utc": ("", "T_REC in UTC (ISO 8601)"),
    "noaa_ars": ("", "NOAA_ARS: every NOAA region in the HARP, comma separated"),
    "quality": ("", "QUALITY flag of the record (hex; 0x00000000 = good)"),
    "flags": ("", "trust checks that failed (ffnn.analysis.quality; stopped_by_time_budget: training stopped by "
                  "its time budget before max_iterations), comma separated; none: all passed"),
    "lat": ("degree", "LAT_FWT: flux-weighted heliographic latitude of the region"),
    "lon": ("degree", "LON_FWT: flux-weighted Stonyhurst longitude of the region"),
    "energy_erg": ("erg", "magnetic energy E = sum |B|^2/(8 pi) dV of the model cube"),
    "energy_pot_erg": ("erg", "energy of the potential field with the same bottom Bz"),
    "free_energy_erg": ("erg", "free energy E - E_pot"),
    "e_over_epot": ("1", "E / E_pot (epsilon_p), against the potential field of the observed bottom Bz"),
    "c_vec_bottom": ("1", "vector correlation of the model's bottom layer with the observed map"),
    "flux_error": ("1", "model / observed unsigned flux - 1 over pixels with |Bz| > 3 sigma"),
    "unsigned_flux_mx": ("maxwell", "unsigned vertical flux through the bottom, sum |Bz| dA"),
    "total_unsigned_current_a": ("A", "total unsigned vertical current through the bottom, sum |Jz| dA"),
    "sigma_j": ("1", "current-weighted sine of the angle between J and B over the cube"),
    "theta_j_deg": ("degree", "arcsin(sigma_j): current-weighted angle between J and B"),
    "mean_abs_fi": ("1", "mean fractional flux <|f_i|> = mean |div B| dx / (6 |B|)"),
    "mean_abs_div_over_b": ("Mm-1", "mean |div B| / |B| = 6 <|f_i|> / dx: the divergence per length, "
                                    "independent of the binning (the divergence check's figure)"),
    "sigma_j_potential": ("1", "sigma_j of the potential field of the observed bottom Bz on the same grid "
                               "(its finite-difference currents)"),
    "e_div_ratio": ("1", "non-solenoidal share of the energy E_div / E (Valori et al. 2013)"),
    "current_energy_erg": ("erg", "E_J,s: energy of the solenoidal current-carrying part (Valori et al. "
                                  "2013), the free energy without the divergence's share"),
    "div_free_factor": ("Mm-2", "mean |div B|^2/|B|^2 over the whole cube"),
    "force_free_factor": ("1", "mean |J x B|^2/(|J|^2 |B|^2) over the whole cube"),
    "loss_total": ("", "final total training loss: the weighted sum of the terms below (spline_grid: with the "
                       "sides' and top's misfit to the potential field, in units of b0^2)"),
    "loss_bc": ("", "final boundary term. Representation mlp: mean |B - B_obs|^2 over the boundary points, "
                    "in G^2; spline_grid: mean over the observed bottom pixels of sum_c w_c (B_c - B_obs,c)^2 "
                    "with B in units of b0 (the RMS observed bottom |B|) and w_c the bc_errors component "
                    "weights, dimensionless"),
    "loss_div": ("gauss2", "final divergence term. mlp: mean (div B)^2 in unit coordinates; spline_grid: 0, "
                           "no such term (B = B_pot + curl A has no discrete divergence beyond the potential "
                           "field's)"),
    "loss_ff": ("", "final force-free term. mlp: with ff_form lorentz (the default) mean |J x B|^2/(|B|^2 + "
                    "floor^2), J the curl in unit coordinates, in G^2 like loss_div; with ff_form angle mean "
                    "sin^2 of the J-B angle, dimensionless. spline_grid: the lorentz form over the nodes "
                    "above the bottom with B in units of b0 and J the grid's central-difference curl per "
                    "pixel, dimensionless"),
    "wall_time_s": ("s", "training wall time (summed over resumed runs)"),
    "stop_reason": ("", "why training stopped: max_iterations, time_budget, loss_tolerance or plateau"),
    "preprocessing": ("", "none, or the weights of the preprocessing (Wiegelmann et al. 2006) of the bottom "
                          "map the training was given; the bottom checks compare with the observed map"),
    "c_vec": ("1", "vector correlation with the reference field"),
    "c_cs": ("1", "mean cosine of the angle to the reference field (Cauchy-Schwarz)"),
    "e_n_prime": ("1", "1 - normalised vector error: 1 - sum |b - B| / sum |B|"),
    "e_m_prime": ("1", "1 - mean vector error: 1 - mean(|b - B| / |B|)"),
    "epsilon": ("1", "energy over the reference field's energy"),
    "pf_c_vec": ("1", "c_vec of the potential field"),
    "pf_c_cs": ("1", "c_cs of the potential field"),
    "pf_e_n_prime": ("1", "e_n_prime of the potential field"),
    "pf_e_m_prime": ("1", "e_m_prime of the potential field"),
    "pf_epsilon": ("1", "epsilon of the potential field"),
    "pf_sigma_j": ("1", "sigma_j of the potential field"),
    "mean_abs_tw": ("1", "mean |Tw| (twist number) of the field lines rooted at strong-field footpoints"),
    "max_abs_tw": ("1", "max |Tw| of the field lines rooted at strong-field footpoints"),
    "qsl_area_mm2": ("Mm2", "area of the bottom where log10 Q > 3 (quasi-separatrix layers)"),
    "flux_tw_gt1_mx": ("maxwell", "unsigned flux of the field lines with |Tw| > 1 (flux ropes; closed lines once)"),
    **{k: (u, f"SHARP keyword {k}" + (f": {KEYWORD_NOTES[k]}" if k in KEYWORD_NOTES else ""))
       for k, u in SHARP_KEYWORD_UNITS.items()},
}

# summary column -> scalar of derived.nc (ffnn.analysis.derived.SUMMARY)
DERIVED_COLUMNS = {"mean_abs_tw": "mean_abs_twist", "max_abs_tw": "max_abs_twist",
                   "qsl_area_mm2": "qsl_area", "flux_tw_gt1_mx": "twisted_flux"}
REFERENCE_METRICS = ("c_vec", "c_cs", "e_n_prime", "e_m_prime", "epsilon")
_QUALITY_KEYS = ("energy_erg", "energy_pot_erg", "free_energy_erg", "e_over_epot", "unsigned_flux_mx",
                 "total_unsigned_current_a", "sigma_j", "theta_j_deg", "mean_abs_fi", "mean_abs_div_over_b",
                 "sigma_j_potential", "e_div_ratio")


# A training stopped by its wall-clock cap (time_budget_s) before max_iterations: its field
# depends on the machine's speed and load, and is not the one a rerun gives. Not a figure of
# the model but of the run, so a check of the summary, not of ffnn quality.
BUDGET_CHECK = "stopped_by_time_budget"


def budget_meaning(stop_reason, iterations, config: dict | None) -> str:
    """What :data:`BUDGET_CHECK` means for a training that stopped on ``stop_reason`` after
    ``iterations``, with its settings ``config`` (``train.json``'s); empty when it did not
    stop on its time budget."""
    if stop_reason != "time_budget":
        return ""
    config = config or {}
    budget, most = _number(config.get("time_budget_s")), _number(config.get("max_iterations"))
    cap = f" (time_budget_s = {budget:g} s)" if budget is not None else ""
    done = f" after {int(iterations)}" + (f" of {int(most)}" if most is not None else "") + " iterations" \
        if _number(iterations) is not None else ""
    return (f"training stopped by its time budget{cap}{done}, not at max_iterations: the field depends on the "
            "machine's speed and load and differs from an iteration-bound run's; rerun where it reaches "
            "max_iterations (a less loaded machine) or raise time_budget_s")


def _number(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def region_row(region: str, *, train: dict, quality: dict, record: dict | None = None,
               profiles=None, reference: dict | None = None, potential_reference: dict | None = None,
               meta: dict | None = None, derived=None) -> dict:
    """One summary row (a flat dict of :data:`COLUMNS` plus extras) and its details.

    ``train``: ``train.json``; ``quality``: ``quality.json`` of ``ffnn quality``;
    ``record``: the record JSON of ``ffnn resolve -o`` (SHARP regions); ``profiles``: the height
    profiles dataset (its top values are the whole-cube factors); ``reference`` and
    ``potential_reference``: ``ffnn metrics --reference`` JSON of the model and of the
    potential field (benchmark regions); ``meta``: extra columns (e.g. ``kind``, ``noaa``);
    ``derived``: the ``ffnn derived`` dataset (its summary scalars, :data:`DERIVED_COLUMNS`).
    """
    from ffnn.field.preprocess import method

    row: dict = {"region": region, "kind": "sharp" if record else "lowlou"}
    meta = dict(meta or {})
    row.update({k: v for k, v in meta.items() if k in ("kind", "noaa")})
    if record:
        keywords = dict(record.get("keywords") or {})
        quality_flag = record.get("quality")
        row.update({
            "noaa": record.get("noaa", row.get("noaa")),
            "harpnum": record.get("harpnum"),
            "t_rec": record.get("t_rec"),
            "t_rec_utc": record.get("t_rec_utc"),
            "noaa_ars": None if keywords.get("NOAA_ARS") is None else str(keywords.get("NOAA_ARS")),
            "quality": record.get("quality_hex") or (None if quality_flag is None else f"0x{int(quality_flag):08x}"),
            "lat": _number(keywords.get("LAT_FWT")),
            "lon": _number(keywords.get("LON_FWT")),
        })
    for key in _QUALITY_KEYS:
        row[key] = _number(quality.get(key))
    row["current_energy_erg"] = _number((quality.get("energy_decomposition") or {}).get("e_j_s"))
    fit = quality.get("bottom_fit") or {}
    row["c_vec_bottom"] = _number(fit.get("c_vec_bottom"))
    row["flux_error"] = _number(fit.get("flux_error"))
    flags = list(quality.get("flags") or [])
    derived_checks = None
    if derived is not None:
        from ffnn.analysis.quality import DERIVED_LIMITS, check_derived

        derived_checks = {key: _number(derived.attrs.get(key)) for key, _, _ in DERIVED_LIMITS.values()}
        flags += check_derived(derived_checks)  # a figure not recorded (None) raises no flag
    if train.get("stop_reason") == "time_budget":
        flags.append(BUDGET_CHECK)
    row["flags"] = ",".join(flags) or "none"
    if profiles is not None:
        for key in ("div_free_factor", "force_free_factor"):
            if key in profiles:
                row[key] = _number(np.asarray(profiles[key].values)[-1])
    final = train.get("final") or {}
    row.update({"loss_total": _number(final.get("loss")), "loss_bc": _number(final.get("loss_bc")),
                "loss_div": _number(final.get("loss_div")), "loss_ff": _number(final.get("loss_ff")),
                "wall_time_s": _number(train.get("elapsed_s")), "stop_reason": train.get("stop_reason"),
                "preprocessing": method(train.get("preprocessing"))})
    if derived is not None:
        for column, name in DERIVED_COLUMNS.items():
            row[column] = _number(derived[name].values) if name in derived else None
    if reference is not None:
        for key in REFERENCE_METRICS:
            row[key] = _number(reference.get(key))
    if potential_reference is not None:
        for key in (*REFERENCE_METRICS, "sigma_j"):
            row[f"pf_{key}"] = _number(potential_reference.get(key))
    if record:
        keywords = record.get("keywords") or {}
        for key in SHARP_KEYWORD_UNITS:
            row[key] = _number(keywords.get(key))
    details = {
        "iterations": train.get("iterations"), "device": train.get("device"),
        "threads": train.get("threads"), "architecture": train.get("architecture"),
        "train_config": train.get("config"), "box": train.get("box"),
        "quality_metrics": quality, "meta": meta, "derived_checks": derived_checks,
    }
    if reference is not None:
        details["reference_metrics"] = reference
    if potential_reference is not None:
        details["potential_reference_metrics"] = potential_reference
    if record:
        details["sharp_record"] = record
    return {**row, "details": details}


# The JSON files a summary row is made of: kind -> (what it is, the keys that say so)
JSON_KINDS = {
    "quality": ("the quality JSON of 'ffnn quality' (its figures, flags as a list)",
                lambda d: isinstance(d.get("flags", []), list) and "region" not in d
                and (isinstance(d.get("flags"), list) or any(k in d for k in _QUALITY_KEYS))),
    "train": ("a training record (train.json of 'ffnn train')",
              lambda d: isinstance(d.get("config"), dict) and "iterations" in d),
    "record": ("a SHARP record JSON ('ffnn resolve -o')", lambda d: "harpnum" in d and "t_rec" in d),
    "metrics": ("a metrics JSON of a field against a reference ('ffnn metrics --reference')",
                lambda d: "c_vec" in d and "e_n_prime" in d),
    "row": ("a summary row ('ffnn summary-row')",
            lambda d: "region" in d and isinstance(d.get("details"), dict)),
}


def read_kind(path, kind: str, what: str) -> dict:
    """The JSON object in ``path``, which must be of ``kind`` (a key of :data:`JSON_KINDS`):
    DataError of one line naming ``what`` (the option), the file and, when it is another
    of these kinds, which (a summary row given as --quality wrote its flags letter by letter)."""
    data = read_json(path, what)
    text, test = JSON_KINDS[kind]
    if not test(data):
        other = next((t for k, (t, is_kind) in JSON_KINDS.items() if k != kind and is_kind(data)), None)
        raise DataError(f"{what} {path} is not {text}" + (f": it is {other}" if other else ""))
    return data


def read_row(path) -> dict:
    """A row written by :func:`write_row`; DataError of one line when ``path`` holds
    another JSON (:func:`read_kind`)."""
    return read_kind(path, "row", "summary row")


def write_row(row: dict, path) -> Path:
    """Store a row (with its details) as JSON."""
    return write_json(row, path)


def summary_table(rows):
    """The summary table of regions.

    Parameters
    ----------
    rows : iterable of dict
        Summary rows (:func:`region_row`, or ``summary_row.json`` files read back).

    Returns
    -------
    `pandas.DataFrame`
        One row per region, columns in :data:`COLUMNS` order (then any others; each
        column's unit in :data:`COLUMNS`); ``details`` are left out.
    """
    import pandas as pd

    if not rows:
        raise DataError("no summary rows to gather")
    flat = [{k: v for k, v in row.items() if k != "details"} for row in rows]
    regions = [r["region"] for r in flat]
    dup = sorted({r for r in regions if regions.count(r) > 1})
    if dup:
        raise DataError(f"region(s) {dup} appear in more than one summary row")
    table = pd.DataFrame(flat)
    known = [c for c in COLUMNS if c in table.columns]
    other = [c for c in table.columns if c not in COLUMNS]
    table = table[known + other]
    for col in ("noaa", "harpnum"):
        if col in table.columns:
            table[col] = pd.to_numeric(table[col], errors="coerce").astype("Int64")
    # a keyword JSOC wrote as nan in every row read as text would make a text column, and
    # its type would then change with the mix of regions in a batch
    for col in table.columns.intersection(list(SHARP_KEYWORD_UNITS)):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    return table


def table_dataset(table):
    """The table as an xarray Dataset on dim ``region`` (the ids in ``region_id``) with units
    and descriptions."""
    import pandas as pd
    import xarray as xr

    data = {}
    for col in table.columns:
        if col == "region":
            continue
        values = table[col]
        if pd.api.types.is_integer_dtype(values.dtype):
            arr = values.astype("float64").to_numpy()  # NaN for missing
        elif pd.api.types.is_numeric_dtype(values.dtype):
            arr = values.to_numpy(dtype="float64")
        else:
            arr = np.array(["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                            for v in values], dtype=object)
        unit, desc = COLUMNS.get(col, ("", col))
        attrs = {"long_name": desc}
        if unit:
            attrs["units"] = unit
        data[col] = ("region", arr, attrs)
    # the ids label the rows as an auxiliary coordinate: a CF coordinate variable (one
    # named as its dimension) must be numeric
    regions = np.array([str(r) for r in table["region"]], dtype=object)
    return xr.Dataset(data, coords={"region_id": ("region", regions, {"long_name": COLUMNS["region"][1]})},
                      attrs={"title": "ffnn workflow summary: one row per region"})


def checks_table(rows):
    """One line per region and trust check (:mod:`ffnn.analysis.quality`): ``region``, ``check``,
    ``value``, ``limit``, ``status`` (``passed``, ``FAILED``, ``not computed``, or for the bottom
    fit of a held bottom ``held (exact by construction)``) and what it
    means; a pandas DataFrame for the report. ``stopped_in_warmup`` reads the iterations
    run against the warm-up's (not computed without a warm-up); ``stopped_by_time_budget``
    (:data:`BUDGET_CHECK`) fails where the training stopped on its time budget."""
    import pandas as pd

    from ffnn.analysis import quality

    lines = []
    for row in rows:
        details = row.get("details") or {}
        metrics = details.get("quality_metrics") or {}
        values = {**metrics, **(metrics.get("bottom_fit") or {}), **(details.get("derived_checks") or {})}
        failed = set(str(row.get("flags") or "").split(",")) - {"none", ""}
        held = bool(values.get("held"))
        for name, (key, limit, how) in {**quality.LIMITS, **quality.DERIVED_LIMITS}.items():
            value = _number(values.get(key))
            status = "not computed" if value is None else ("FAILED" if name in failed else "passed")
            if held and name in quality.BOTTOM_FIT_FLAGS and status == "passed":
                status = "held (exact by construction)"
            lines.append({"region": row["region"], "check": name, "value": value, "limit": limit,
                          "status": status,
                          "meaning": quality.describe(name, values) if name in failed else ""})
        # value: the iterations run; limit: the warm-up's (the check fails at or below it)
        iterations = _number(details.get("iterations"))
        warmup = _number(quality.warmup_of(details.get("train_config") or {}))
        failed_warmup = quality.WARMUP_FLAG in failed
        status = ("FAILED" if failed_warmup else
                  "not computed" if iterations is None or not warmup else "passed")
        lines.append({"region": row["region"], "check": quality.WARMUP_FLAG, "value": iterations,
                      "limit": warmup, "status": status,
                      "meaning": quality.describe(quality.WARMUP_FLAG, values) if failed_warmup else ""})
        # value: the iterations run; limit: max_iterations (a stop on the time budget before it fails)
        config = details.get("train_config") or {}
        stop = row.get("stop_reason")
        status = "FAILED" if stop == "time_budget" else "passed" if stop else "not computed"
        lines.append({"region": row["region"], "check": BUDGET_CHECK, "value": iterations,
                      "limit": _number(config.get("max_iterations")), "status": status,
                      "meaning": budget_meaning(stop, iterations, config)})
    return pd.DataFrame(lines, columns=["region", "check", "value", "limit", "status", "meaning"])


def write_summary(rows, tsv=None, nc=None, json_path=None, checks=None):
    """Write the gathered table as TSV, NetCDF and/or JSON (full rows with details), and the
    trust checks of every region as TSV (``checks``), atomically."""
    table = summary_table(rows)
    if tsv:
        write_csv(table, tsv, sep="\t", na_rep="NaN", float_format="%.6g")
    if nc:
        ds = table_dataset(table)
        # text as char arrays: CF's checker knows no NetCDF-4 string type
        write_netcdf(ds, nc, encoding={name: {"dtype": "S1"} for name, var in ds.variables.items()
                                       if var.dtype == object})
    if checks:
        write_csv(checks_table(rows), checks, sep="\t", na_rep="", float_format="%.4g")
    if json_path:
        write_json({"columns": {k: {"units": v[0], "description": v[1]} for k, v in COLUMNS.items()
                                if k in table.columns},
                    "rows": list(rows)}, json_path)
    return table


# ---------------------------------------------------------------- Low & Lou table

# Published numbers at 64^3 (the FFNN method paper's, Wiegelmann's published optimisation
# results, the potential field's; metrics of Schrijver et al. 2006) and pyAMaFiL 1.2.2
# measured here (benchmarks/peers.py), by (n, boundary): boundary
# "faces" = all six faces of the reference, "bottom" = bottom of the reference with
# potential-field sides and top. Columns: C_vec, C_cs, E_n', E_m', epsilon, time.
PUBLISHED = {
    (1, "faces"): [
        ("FFNN paper (64³)", "1.00", "1.00", "0.98", "0.98", "0.99", "not given (MATLAB, laptop)"),
        ("Wiegelmann, published (64³)", "1.00", "1.00", "0.98", "0.98", "1.02", ""),
        ("pyAMaFiL 1.2.2, measured (64³)", "0.9998", "0.9993", "0.979", "0.974", "1.014", "~60 s, 1 core"),
        ("potential field, published (64³)", "0.85", "0.82", "0.45", "0.35", "0.77", ""),
    ],
    (1, "bottom"): [
        ("pyAMaFiL, measured, bottom only (64³)", "0.993", "0.834", "0.756", "0.451", "0.991", "~22 s"),
    ],
    (3, "bottom"): [
        ("FFNN paper (64³)", "1.00", "0.43", "0.79", "0.01", "0.99", ""),
        ("Wiegelmann, published (64³)", "1.00", "0.57", "0.86", "−0.25", "1.04", ""),
    ],
}
TABLE_METRICS = ("c_vec", "c_cs", "e_n_prime", "e_m_prime", "epsilon")
TABLE_HEADER = ("method", "C_vec", "C_cs", "E_n'", "E_m'", "ε", "ε_p", "σ_J", "time")
# metrics where larger is better, used for the verdict against the potential field
BEAT_METRICS = ("c_vec", "c_cs", "e_n_prime", "e_m_prime")


def _fmt(value, digits: int = 3) -> str:
    value = _number(value)
    return "–" if value is None else f"{value:.{digits}f}"


def beats_potential(row: dict) -> list[str]:
    """The metrics of :data:`BEAT_METRICS` in which the model is better than the potential field."""
    better = []
    for key in BEAT_METRICS:
        model, pf = _number(row.get(key)), _number(row.get(f"pf_{key}"))
        if model is not None and pf is not None and model > pf:
            better.append(key)
    return better


def _case_text(meta: dict) -> str:
    n, m = meta.get("lowlou_n"), meta.get("lowlou_m")
    boundary = meta.get("lowlou_boundary")
    what = {"faces": "all six faces of the reference",
            "bottom": "bottom of the reference, sides and top from its potential field"}.get(boundary, boundary)
    parts = [f"n={n}, m={m}" if n is not None else None,
             f"l={meta['lowlou_l']:g}" if _number(meta.get("lowlou_l")) is not None else None,
             f"Φ={meta['lowlou_phi']:.4g} rad" if _number(meta.get("lowlou_phi")) is not None else None]
    head = ", ".join(p for p in parts if p)
    return f"{head}; boundary data: {what}" if what else head


def lowlou_table(rows) -> str:
    """The Low & Lou benchmark table (``results/lowlou/table.md``).

    Parameters
    ----------
    rows : list of dict
        Summary rows of the benchmark regions, with their comparison against the
        reference field (model and potential field).

    Returns
    -------
    str
        Markdown: per region, the potential field and the FFNN of this run beside the
        published rows of the same case (C_vec, C_cs, E_n', E_m', epsilon of Schrijver
        et al. 2006, Sol. Phys. 235, 161; time).

    Raises
    ------
    ffnn.util.errors.DataError
        When no rows are given.
    """
    if not rows:
        raise DataError("no Low & Lou rows for the benchmark table")
    lines = ["# Low & Lou benchmark", "",
             "Metrics of Schrijver et al. (2006, Sol. Phys. 235, 161) against the Low & Lou reference field on the whole grid "
             "(1 is perfect for C_vec, C_cs, E_n', E_m', ε; lower σ_J is more force-free). "
             "Rows marked *this run* were computed by the workflow on the grid given; the "
             "published rows are at 64³ and are shown for orientation.", "",
             "Units: the Low & Lou field is dimensionless; its products label lengths Mm, the field "
             "gauss and energies erg nominally (box units), so only the ratios here compare with "
             "other work.", ""]
    for row in rows:
        details = row.get("details") or {}
        meta = details.get("meta") or {}
        shape = meta.get("lowlou_shape")
        grid = "×".join(str(int(s)) for s in shape) if shape else "?"
        lines += [f"## {row['region']}", "", f"{_case_text(meta)}; this run on a {grid} grid.", ""]
        lines.append("| " + " | ".join(TABLE_HEADER) + " |")
        lines.append("|" + "---|" * len(TABLE_HEADER))
        pf_cells = [_fmt(row.get(f"pf_{k}")) for k in TABLE_METRICS]
        lines.append("| potential field (*this run*) | " + " | ".join(pf_cells) + " | 1.000 | "
                     + _fmt(row.get("pf_sigma_j")) + " | |")
        iters = details.get("iterations")
        wall = _number(row.get("wall_time_s"))
        time_text = (f"{wall:.0f} s" if wall is not None else "") + (f", {iters} it." if iters else "")
        threads, device = details.get("threads"), details.get("device")
        if device:
            plural = "s" if threads != 1 else ""
            time_text += f", {device}" + (f" ({threads} thread{plural})" if threads and device == "cpu" else "")
        model_cells = [_fmt(row.get(k)) for k in TABLE_METRICS]
        lines.append("| FFNN (*this run*) | " + " | ".join(model_cells) + " | "
                     + _fmt(row.get("e_over_epot")) + " | " + _fmt(row.get("sigma_j")) + " | "
                     + time_text + " |")
        key = (int(meta["lowlou_n"]) if _number(meta.get("lowlou_n")) is not None else None,
               meta.get("lowlou_boundary"))
        for name, *values, when in PUBLISHED.get(key, []):
            lines.append(f"| {name} | " + " | ".join(values) + f" | – | – | {when} |")
        better = beats_potential(row)
        names = {"c_vec": "C_vec", "c_cs": "C_cs", "e_n_prime": "E_n'", "e_m_prime": "E_m'"}
        verdict = ("beats the potential field in " + ", ".join(names[k] for k in better)
                   + f" ({len(better)} of {len(BEAT_METRICS)})") if better else "does not beat the potential field"
        lines += ["", f"FFNN {verdict}.", ""]
    return "\n".join(lines)
