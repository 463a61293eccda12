"""The series figure: the quantities of ``series.nc`` against time, with the region's flares.

Flares come from a GOES event list in the NOAA/NCEI layout (by default the list shipped in
``ffnn/data/flares/``), read by :func:`ffnn.forecast.labels.read_events`; :func:`region_flares`
keeps those of the series' regions and time range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffnn.util.errors import DataError

# the panels, top to bottom: (variables, axis label); a panel none of whose variables is
# in any dataset is left out. Second variables are drawn dashed.
PANELS = (
    (("energy", "energy_pot"), "E, E_pot (dashed)\n(erg)"),
    (("free_energy",), "E − E_pot (erg)"),
    (("unsigned_flux",), "unsigned flux (Mx)"),
    (("total_unsigned_current",), "unsigned current (A)"),
    (("sigma_j",), "σ_J"),
    (("mean_abs_tw",), "mean |Tw|"),
    (("wall_time",), "training (s)"),
)
CLASS_COLOURS = {"X": "tab:red", "M": "tab:orange", "C": "0.55"}
SMALLEST_CLASS = "C"  # A and B flares are left off the figure


def region_flares(path, noaa_numbers, start, end):
    """The flares of NOAA regions ``noaa_numbers`` whose peak lies in [``start``, ``end``]
    (UTC, anything ``pandas.Timestamp`` reads), from the GOES event list at ``path``.

    Returns a DataFrame with columns ``class``, ``start``, ``peak``, ``end`` (naive UTC
    timestamps) and ``noaa``, sorted by peak. Raises DataError naming the file when it
    cannot be read or is not an event list (:func:`ffnn.forecast.labels.read_events`).
    """
    import pandas as pd

    from ffnn.forecast.labels import read_events

    events = read_events(path)
    lo, hi = (pd.Timestamp(t).tz_localize("UTC") if pd.Timestamp(t).tzinfo is None else pd.Timestamp(t)
              for t in (start, end))
    keep = events["noaa"].isin([int(n) for n in noaa_numbers]) & (events["peak"] >= lo) & (events["peak"] <= hi)
    out = events[keep].rename(columns={"flare_class": "class"})
    for key in ("start", "peak", "end"):
        out[key] = out[key].dt.tz_convert(None)
    return out[["class", "start", "peak", "end", "noaa"]].sort_values("peak").reset_index(drop=True)


def _shown(flare_class: str) -> bool:
    letter = str(flare_class)[:1].upper()
    return letter in CLASS_COLOURS


def plot_series(datasets: dict, path, *, reference=None, flares=None, title: str = "",
                dpi: int = 110) -> Path:
    """Draw the quantities of one or more series against time and save a PNG at ``path``.

    ``datasets``: label → ``series.nc`` dataset (:func:`ffnn.pipeline.series.series_dataset`);
    each is one colour in every panel of :data:`PANELS`, with filled markers on
    warm-started snapshots and open ones on cold starts. ``reference``: (label, dataset)
    of a known field (the exact Low & Lou field of a benchmark), drawn as a black dotted
    line. ``flares`` (:func:`region_flares`): vertical lines at the peak of every C, M and
    X flare, the M and X ones labelled with their class. Written through a temporary
    name (:func:`ffnn.util.files.save_figure`).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from ffnn.util.files import save_figure

    if not datasets:
        raise DataError("no series to draw")
    every = list(datasets.values()) + ([reference[1]] if reference else [])
    panels = [(names, label) for names, label in PANELS
              if any(name in ds and np.isfinite(ds[name].values).any() for ds in every for name in names)]
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(7.5, 1.5 * len(panels) + 1.0),
                             dpi=dpi, squeeze=False)
    axes = axes[:, 0]
    for (names, label), ax in zip(panels, axes):
        for j, name in enumerate(names):
            style = "--" if j else "-"
            for k, (set_label, ds) in enumerate(datasets.items()):
                if name not in ds or not np.isfinite(ds[name].values).any():
                    continue
                t, v = ds["time"].values, ds[name].values
                warm = ds["warm_start"].values.astype(bool)
                colour = f"C{k}"
                ax.plot(t, v, style, color=colour, lw=1.2, label=set_label if not j else None)
                ax.plot(t[warm], v[warm], "o", color=colour, ms=3.5)
                ax.plot(t[~warm], v[~warm], "o", mfc="white", color=colour, ms=3.5)
            if reference and name in reference[1] and np.isfinite(reference[1][name].values).any():
                ref = reference[1]
                ax.plot(ref["time"].values, ref[name].values, ":" if not j else "-.", color="k", lw=1.2,
                        label=reference[0] if not j else None)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if len(datasets) > 1 or reference:
        axes[0].legend(fontsize=7, loc="best")
    if flares is not None and len(flares):
        for _, flare in flares.iterrows():
            if not _shown(flare["class"]) or flare["peak"] is None:
                continue
            colour = CLASS_COLOURS[str(flare["class"])[0].upper()]
            for ax in axes:
                ax.axvline(flare["peak"], color=colour, lw=0.9, alpha=0.8, zorder=0)
            if str(flare["class"])[0].upper() in "MX":
                axes[0].annotate(flare["class"], (mdates.date2num(flare["peak"]), 1.0),
                                 xycoords=("data", "axes fraction"), fontsize=7, color=colour,
                                 ha="center", va="bottom")
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[-1].set_xlabel("time (UTC)", fontsize=8)
    note = "open markers: cold start; filled: warm start"
    if flares is not None:
        note += f"; GOES flares ≥ {SMALLEST_CLASS}: {sum(_shown(c) for c in flares['class'])} (X red, M orange, C grey)"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
