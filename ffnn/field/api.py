"""The field model from Python: the calls a notebook makes, the steps the command line runs.

Each function here is one step of the workflow (``ffnn boundary``, ``ffnn potential``,
``ffnn train``, ``ffnn cube``) on in-memory datasets instead of files::

    import ffnn
    bottom = ffnn.read_sharp("ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI", bin=8)
    potential = ffnn.potential_field(bottom)
    model = ffnn.train(bottom, potential, ffnn.TrainConfig(representation="spline_grid", max_iterations=300))
    cube = model.cube()
    checks = ffnn.trust_checks(cube, potential, bottom)

Lengths may be given as :class:`astropy.units.Quantity` (``height=100 * u.Mm``, grids in
any length unit); bare numbers are Mm. Datasets come back with CF ``units`` attributes
(:func:`ffnn.util.units.as_quantity` makes quantities of them) and the record's WCS
keywords (:func:`ffnn.io.maps.map_wcs`). torch is imported when training or evaluation
runs, not before.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from ffnn.util.errors import ConfigError, DataError
from ffnn.util.units import to_value

__all__ = ["read_sharp", "potential_field", "train", "TrainedModel", "load_model", "evaluate"]

PACKAGE_PREFIX = "ffnn:"  # as in a region sheet's sharp_dir column: a record shipped in ffnn.data
SIDES_AND_TOP = ("top", "x_min", "x_max", "y_min", "y_max")


def _record_directory(source) -> Path:
    text = str(source)
    if not text.startswith(PACKAGE_PREFIX):
        return Path(source)
    shipped = resources.files("ffnn") / "data" / "sharp"
    directory = Path(str(shipped / text[len(PACKAGE_PREFIX):]))
    if not directory.is_dir():
        names = sorted(p.name for p in Path(str(shipped)).iterdir() if p.is_dir())
        raise DataError(f"no SHARP record {text} in the package; it ships "
                        f"{', '.join(PACKAGE_PREFIX + n for n in names)}")
    return directory


def read_sharp(source, *, bin=2, height=100.0, record=None) -> xr.Dataset:
    """The bottom map of a SHARP record: its FITS files, a shipped record, or sunpy maps.

    Parameters
    ----------
    source : str, path-like or dict
        A directory holding one record's segment files as JSOC exports them
        (``<record>.Br.fits``, ``Bp``, ``Bt`` and optionally ``Br_err``, ``Bp_err``,
        ``Bt_err``; or as-is names ``Br.fits`` ...); ``"ffnn:<record>"`` for a record
        shipped with the package (``ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI``,
        NOAA 11158 before its X2.2 flare); or a dict of the segments as sunpy maps,
        ``{"Bp": bp, "Bt": bt, "Br": br}`` and optionally ``"Bp_err"``, ``"Bt_err"``,
        ``"Br_err"`` (:func:`ffnn.io.maps.from_maps`).
    bin : int, optional
        Bin factor: f x f blocks averaged ignoring NaN (1: none). Default 2 (0.73 Mm
        pixels).
    height : float or `~astropy.units.Quantity`, optional
        Height of the box above the map; a number is read in Mm. Default 100 Mm.
    record : path-like, optional
        A record JSON (``resolve.json`` or ``sharp.json``) whose keywords complete the
        headers'. Default: ``sharp.json`` in the directory, when present.

    Returns
    -------
    `xarray.Dataset`
        The bottom map: dims ``(x, y)``, coordinates in Mm (pixel centres, centred on the
        map, x west, y north), ``Bx`` = Bp, ``By`` = -Bt, ``Bz`` = Br and their errors
        ``Bx_err``, ``By_err``, ``Bz_err`` in G (CF units "gauss", NaN where not
        observed); attributes ``height_mm``, ``l0_mm``, ``bin_factor``, the pixel sizes,
        the record's keywords (``HARPNUM``, ``T_REC``, ``NOAA_ARS`` ...) and its WCS for
        the binned grid.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a bin factor that is not a positive integer, a height that is not a
        positive length (a quantity of another physical type included), or a dict
        without Bp, Bt, Br or with other keys.
    ffnn.util.errors.DataError
        For a directory without one record's Br, Bp, Bt, a record not shipped, segments
        of different records, or files that cannot be read (one line naming the file).

    See Also
    --------
    ffnn.field.boundary.from_sharp : the same, as ``ffnn boundary`` calls it.
    ffnn.io.maps.from_maps : a bottom map from sunpy maps.

    Notes
    -----
    Bx = Bp, By = -Bt, Bz = Br are the local Cartesian components of the CEA map (Sun
    2013, arXiv:1309.2392); errors of a binned block combine as independent,
    sqrt(sum sigma^2)/n. The box is [-X, X] x [-Y, Y] x [0, height] Mm.

    Examples
    --------
    >>> import astropy.units as u
    >>> import ffnn
    >>> bottom = ffnn.read_sharp("ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI",
    ...                          bin=8, height=80 * u.Mm)
    >>> dict(bottom.sizes), bottom.attrs["height_mm"]
    ({'x': 93, 'y': 47}, 80.0)
    """
    from ffnn.field.boundary import from_sharp

    if isinstance(bin, bool) or not isinstance(bin, (int, np.integer)):
        raise ConfigError(f"bin = {bin!r}: the bin factor must be a positive integer")
    if isinstance(source, dict):
        from ffnn.io.maps import from_maps

        known = ("Bp", "Bt", "Br", "Bp_err", "Bt_err", "Br_err")
        unknown = sorted(map(str, set(source) - set(known)))
        if unknown:
            raise ConfigError(f"sunpy maps of a SHARP record: {', '.join(unknown)} is no segment; "
                              f"give {', '.join(known)}")
        missing = [s for s in known[:3] if s not in source]
        if missing:
            raise ConfigError(f"sunpy maps of a SHARP record: {', '.join(missing)} missing")
        maps = {k.lower(): v for k, v in source.items()}
        return from_maps(maps.pop("bp"), maps.pop("bt"), maps.pop("br"), bin=bin, height=height, **maps)
    directory = _record_directory(source)
    return from_sharp(directory, bin_factor=int(bin), height_mm=to_value(height, "Mm", "height"), record=record)


def potential_field(bottom: xr.Dataset, *, nz: int | None = None, method: str = "fft", pad: int = 4) -> xr.Dataset:
    """The potential (current-free) field above a bottom map, as a cube.

    Parameters
    ----------
    bottom : `xarray.Dataset`
        A bottom map (:func:`read_sharp`): ``Bz`` on ``(x, y)`` in G, attribute
        ``height_mm``. NaN pixels count as 0 G here only.
    nz : int, optional
        Number of heights from 0 to ``height_mm``, at least 3. Default: spacing dz equal
        to the pixel size.
    method : {"fft", "green"}, optional
        ``"fft"`` (default): Fourier solution on the map zero-padded ``pad``-fold;
        ``"green"``: the Green's function of the open half-space, each pixel integrated
        as a uniformly charged rectangle.
    pad : int, optional
        Zero-padding factor of the ``fft`` method in x and y. Default 4.

    Returns
    -------
    `xarray.Dataset`
        The cube: dims ``(x, y, z)`` of shape (nx, ny, nz), the map's x, y and heights
        z in Mm, ``Bx``, ``By``, ``Bz`` in G (CF units "gauss"); attributes
        ``potential_method``, ``potential_pad`` and the map's WCS keywords.

    Raises
    ------
    ffnn.util.errors.DataError
        When ``bottom`` is not a bottom map (no Bx, By, Bz on x, y) or its Bz has no
        finite pixel.
    ffnn.util.errors.ConfigError
        For an unknown method or fewer than 3 heights.

    Notes
    -----
    Fourier method (Alissandrakis 1981, A&A 100, 197): Bz^(k, z) = Bz^(k, 0) exp(-|k| z),
    Bx^ = -i kx/|k| Bz^, By^ = -i ky/|k| Bz^. Green's function (Schmidt 1964; Sakurai
    1982, Sol. Phys. 76, 301): phi = (1/2 pi) int Bz dA / |r - r'|, B = -grad phi.
    The cube is what ``ffnn potential --cube`` writes; training draws its side and top
    faces (:func:`ffnn.field.potential.potential_faces`) and the energy checks compare
    with it (E/E_pot).
    """
    from ffnn.field.boundary import is_map
    from ffnn.field.potential import METHODS, potential_cube

    if not isinstance(bottom, xr.Dataset) or not is_map(bottom) or any(c not in bottom for c in ("Bx", "By", "Bz")):
        raise DataError("potential_field needs a bottom map (Bx, By, Bz on x, y), e.g. from ffnn.read_sharp")
    if method not in METHODS:
        raise ConfigError(f"method = {method!r}: choose from {', '.join(METHODS)}")
    if nz is not None and int(nz) < 3:
        raise ConfigError(f"nz = {nz}: at least 3 heights are needed")
    cube = potential_cube(bottom, method, nz, pad)
    cube.attrs["potential_pad"] = int(pad)
    return cube


def _boundary_points(bottom: xr.Dataset, potential: xr.Dataset | None) -> xr.Dataset:
    """The training's boundary points: the map, and the potential field's sides and top."""
    from ffnn.field.boundary import is_map, map_to_points, merge_points
    from ffnn.field.potential import potential_faces

    if not isinstance(bottom, xr.Dataset):
        raise DataError(f"bottom: expected an xarray.Dataset (a bottom map), got {type(bottom).__name__}")
    parts = [map_to_points(bottom) if is_map(bottom) else bottom]
    if potential is not None and is_map(bottom):
        from ffnn.field.cube import check_same_grid

        check_same_grid(bottom, potential, "potential", axes=("x", "y"), of="the bottom map's ")
        parts.append(potential_faces(bottom, potential.attrs.get("potential_method", "fft"),
                                     potential.sizes["z"], int(potential.attrs.get("potential_pad", 4))))
    return merge_points(parts)


@dataclass
class TrainedModel:
    """A trained force-free neural network with what is needed to evaluate and document it.

    Made by :func:`train` or :func:`load_model`; :meth:`cube` evaluates it on any grid.

    Parameters
    ----------
    network : `torch.nn.Module`
        The model, in eval mode. Representation mlp: the network
        (:class:`ffnn.field.model.FFNN`, or :class:`ffnn.field.model.HeldBottom` when
        the bottom map is held), mapping unit coordinates (n, 3) to B (n, 3) in G.
        Representation spline_grid: a :class:`ffnn.field.gridfield.GridField`, B on the
        nodes of its training grid.
    meta : dict
        Its record as ``train.json`` holds it: ``config`` (the training settings),
        ``box`` (x_min ... z_max, Mm), ``grid`` (the training data's x, y, z, Mm),
        ``final`` (loss terms), ``stop_reason``, ``iterations``, ``elapsed_s`` (s),
        ``wcs`` (the bottom map's WCS keywords).
    history : list of dict, optional
        One row per optimiser step (L-BFGS for mlp, Adam for spline_grid):
        ``iteration``, ``evaluations``, ``elapsed_s``, ``loss``, ``loss_bc``,
        ``loss_div``, ``loss_ff`` (spline_grid: ``loss_div`` 0, and ``loss_potential``).
        Empty for a loaded model.
    path : `pathlib.Path`, optional
        The ``model.pt`` it was saved to or read from; None when trained without
        ``out_dir``.

    Attributes
    ----------
    stop_reason : str
        Why training stopped: ``max_iterations``, ``time_budget``, ``loss_tolerance``
        or ``plateau``.
    iterations : int
        Optimiser iterations done.
    """

    network: object
    meta: dict
    history: list = field(default_factory=list)
    path: Path | None = None

    @property
    def stop_reason(self) -> str:
        """Why training stopped (``max_iterations``, ``time_budget``, ...)."""
        return str(self.meta.get("stop_reason"))

    @property
    def iterations(self) -> int:
        """Optimiser iterations done (L-BFGS for mlp, Adam for spline_grid)."""
        return int(self.meta.get("iterations", 0))

    def cube(self, x=None, y=None, z=None, *, chunk: int = 16384) -> xr.Dataset:
        """The field of the model on a grid, with its currents and divergence.

        Parameters
        ----------
        x, y, z : array_like or `~astropy.units.Quantity`, optional
            1-D coordinates of the grid (numbers in Mm), in the box's frame: x west and y
            north from the map's centre, z up from the photosphere. Each defaults to the
            training data's own axis (the bottom map's x, y; heights spaced like them).
        chunk : int, optional
            Points evaluated per batch (bounds memory). Default 16384.

        Returns
        -------
        `xarray.Dataset`
            Dims ``(x, y, z)`` of shape (nx, ny, nz): ``Bx``, ``By``, ``Bz`` (G, CF units
            "gauss"), ``Jx``, ``Jy``, ``Jz`` (curl B, "gauss Mm-1"), ``divB``
            ("gauss Mm-1"); attributes: training settings, final loss terms, stop reason,
            ffnn version, ``l0_mm`` and the bottom map's WCS keywords (valid for x, y on
            the map's own grid; :func:`ffnn.io.maps.map_wcs`).

        Raises
        ------
        ffnn.util.errors.ConfigError
            When a coordinate is a quantity that is not a length, or ``chunk`` < 1, or
            a spline_grid model is asked for another grid than its training grid.
        ffnn.util.errors.DataError
            When the model gives non-finite values (the cube would be meaningless).

        Notes
        -----
        Representation mlp: derivatives are exact (automatic differentiation of the
        network), not finite differences. Representation spline_grid: B is given on its
        training grid only (another grid raises ConfigError) and J, div B are the grid's
        central differences, the ones the model was trained on. In both the current
        density is J = c/(4 pi) curl B. Points of an mlp cube outside the training box
        are extrapolations of the network and are not constrained by the loss.
        """
        from ffnn.field.cube import model_cube

        coords = [to_value(v, "Mm", name) for v, name in ((x, "x"), (y, "y"), (z, "z"))]
        for name, c in zip("xyz", coords):
            if c is not None and np.ndim(c) != 1:
                raise ConfigError(f"{name}: give 1-D grid coordinates, got shape {np.shape(c)}")
        cube = model_cube(self.network, self.meta, *coords, chunk=chunk)
        for name in ("Bx", "By", "Bz"):
            if not np.isfinite(cube[name].values).all():
                raise DataError(f"the model gives non-finite {name} on this grid")
        return cube

    def save(self, path) -> Path:
        """Save the model as ``model.pt`` (what ``ffnn cube`` reads).

        Parameters
        ----------
        path : path-like
            The file to write (written whole: a temporary name, then renamed).

        Returns
        -------
        `pathlib.Path`
            ``path``.
        """
        import torch

        from ffnn.util.files import atomic_write

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: torch.save({"state_dict": self.network.state_dict(), "meta": self.meta}, tmp))
        self.path = path
        return path

    def __repr__(self) -> str:
        cfg = self.meta.get("config", {})
        final = self.meta.get("final", {})
        return (f"TrainedModel({cfg.get('hidden_layers')}x{cfg.get('width')} tanh network, "
                f"{self.iterations} iterations, stop {self.stop_reason}, loss {final.get('loss', float('nan')):.4g})")


def train(bottom: xr.Dataset, potential: xr.Dataset | None = None, config=None, *, out_dir=None,
          resume: bool = True, init_model=None, **settings) -> TrainedModel:
    """Fit the force-free neural network to a bottom map (and the potential field's faces).

    Parameters
    ----------
    bottom : `xarray.Dataset`
        A bottom map (:func:`read_sharp`, :func:`ffnn.io.maps.from_maps`) or boundary
        points (:func:`ffnn.field.boundary.load_boundary`), fields in G.
    potential : `xarray.Dataset`, optional
        The potential field above ``bottom`` (:func:`potential_field`). Its four sides
        and top become boundary data that training trusts less than observations
        (setting ``potential_weight``), and with ``potential_iterations`` > 0 training
        first fits its volume. Without it only the bottom constrains the field.
    config : `ffnn.field.train.TrainConfig` or dict, optional
        The training settings (``ffnn train --help`` lists them with meaning, unit and
        default). Default: ``TrainConfig()``.
    out_dir : path-like, optional
        Where to write ``checkpoint.pt``, ``loss.csv``, ``model.pt`` and ``train.json``
        (as ``ffnn train --outdir``; a rerun resumes from the checkpoint). Default: a
        temporary directory, removed afterwards.
    resume : bool, optional
        Continue from a checkpoint in ``out_dir``. Default True.
    init_model : path-like, optional
        A ``model.pt`` of the same network to start from (warm start).
    **settings
        Training settings overriding those of ``config``, e.g. ``max_iterations=200``.

    Returns
    -------
    TrainedModel
        The network with its record (settings, box, grid, final loss terms, stop reason,
        WCS) and loss history; ``model.cube()`` evaluates it.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For an unknown setting or one out of range, ``potential_iterations`` without a
        ``potential``, or representation spline_grid without a ``potential`` or without
        an observed bottom map on its grid.
    ffnn.util.errors.DataError
        For boundary data that are not a bottom map or points, or a potential field on
        another grid.
    ffnn.util.errors.FFNNError
        When training diverges (non-finite loss) more often than ``max_rollbacks``.

    Notes
    -----
    Representation spline_grid (the workflow's default for SHARP regions): B = B_pot +
    curl_h A on the potential field's grid, A from multi-resolution cubic B-spline grids,
    fitted by Adam with the grid's own central differences (Wiegelmann 2004's functional
    on the grid; :mod:`ffnn.field.gridtrain`); ``model.cube()`` gives B on that grid only.
    Representation mlp (``TrainConfig()``'s default, the Low & Lou cases'):
    B is a tanh multilayer perceptron of the coordinates with a diagonal (quasi-)output
    layer, fitted by L-BFGS to the boundary data under force-free and divergence-free
    terms, derivatives by automatic differentiation; the loss is the FFNN method paper's
    with the deviations listed in :mod:`ffnn.field.train` (docs page "The method":
    docs/explanation/method.md). The classical counterpart of the loss is the optimisation
    functional of Wheatland, Sturrock & Roumeliotis (2000, ApJ 540, 1150) and
    Wiegelmann (2004, Sol. Phys. 219, 87).

    Examples
    --------
    >>> model = ffnn.train(bottom, potential, max_iterations=20, width=32)  # doctest: +SKIP
    >>> model.stop_reason                                                    # doctest: +SKIP
    'max_iterations'
    """
    from ffnn.field.train import TrainConfig
    from ffnn.field.train import train as _train

    if config is None:
        config = TrainConfig()
    elif isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    elif not isinstance(config, TrainConfig):
        raise ConfigError(f"config: expected a TrainConfig or a dict of settings, got {type(config).__name__}")
    if settings:
        from dataclasses import asdict

        config = TrainConfig.from_dict({**asdict(config), **settings})
    else:
        config.validate()
    if config.potential_iterations and potential is None:
        raise ConfigError(f"potential_iterations={config.potential_iterations} needs the potential field: "
                          "give potential")
    points = _boundary_points(bottom, potential)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="ffnn-train-") as tmp:
            result = _train(points, config, tmp, resume=False, init_model=init_model, potential=potential)
        path = None
    else:
        result = _train(points, config, out_dir, resume=resume, init_model=init_model, potential=potential)
        path = Path(out_dir) / "model.pt"
    if not result.trained:  # a finished training found in out_dir: its saved model is the result
        return load_model(path)
    return TrainedModel(result.model.eval(), result.meta, list(result.history), path)


def load_model(path, device: str = "cpu") -> TrainedModel:
    """A trained model from its ``model.pt`` (written by ``ffnn train`` or :meth:`TrainedModel.save`).

    Parameters
    ----------
    path : path-like
        The ``model.pt`` file (not ``checkpoint.pt``, which holds no grid or box).
    device : str, optional
        Where to put the network: ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    TrainedModel
        The network in eval mode and its record (``history`` is empty; ``loss.csv``
        beside the file holds it).

    Raises
    ------
    ffnn.util.errors.DataError
        When the file cannot be read as a model (one line naming it).
    """
    from ffnn.field.train import load_model as _load

    network, meta = _load(path, device)
    return TrainedModel(network, meta, [], Path(path))


def evaluate(model: TrainedModel, x=None, y=None, z=None, *, chunk: int = 16384) -> xr.Dataset:
    """The field of a trained model on a grid: :meth:`TrainedModel.cube` as a function.

    Parameters
    ----------
    model : TrainedModel or path-like
        A model from :func:`train` or :func:`load_model`, or the path of a ``model.pt``.
    x, y, z : array_like or `~astropy.units.Quantity`, optional
        1-D grid coordinates (numbers in Mm); each defaults to the training data's axis.
    chunk : int, optional
        Points evaluated per batch. Default 16384.

    Returns
    -------
    `xarray.Dataset`
        ``Bx``, ``By``, ``Bz`` (G), ``Jx``, ``Jy``, ``Jz``, ``divB`` (G/Mm) on dims
        ``(x, y, z)`` with CF units and the record's WCS keywords.

    Raises
    ------
    ffnn.util.errors.ConfigError
        When a coordinate is a quantity that is not a length.
    ffnn.util.errors.DataError
        When the model file cannot be read or gives non-finite values.

    Examples
    --------
    >>> import astropy.units as u, numpy as np                       # doctest: +SKIP
    >>> z = np.linspace(0, 20, 11) * u.Mm                            # doctest: +SKIP
    >>> low = ffnn.evaluate(model, z=z)                              # doctest: +SKIP
    """
    if not isinstance(model, TrainedModel):
        model = load_model(model)
    return model.cube(x, y, z, chunk=chunk)
