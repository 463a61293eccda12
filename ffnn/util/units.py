"""Units at the public boundary: :class:`astropy.units.Quantity` in, plain numbers in ffnn's
own units (Mm, G) for the numeric kernels; CF ``units`` attributes out as quantities.

The entry points of :mod:`ffnn` accept a length as ``100 * u.Mm`` or ``1e10 * u.cm`` as
well as a bare number, which is read in the unit the parameter documents (Mm for lengths,
G for fields). A quantity of another physical type (``5 * u.s`` for a height) is refused
with one line naming the parameter (:class:`ffnn.util.errors.ConfigError`). astropy is
imported only when a function here runs.
"""

from __future__ import annotations

import numpy as np

from ffnn.util.errors import ConfigError

__all__ = ["to_value", "as_quantity"]

# CF / UDUNITS spellings that ffnn writes, as astropy reads them
_CF_UNITS = {"gauss": "G", "gauss Mm-1": "G / Mm", "Mm-1": "1 / Mm", "Mm": "Mm", "erg": "erg", "Mx": "Mx",
             "1": ""}


def to_value(value, unit: str, name: str):
    """A length or field in ffnn's unit: a quantity converted, a number as given.

    Parameters
    ----------
    value : float, array_like or `~astropy.units.Quantity`
        The value as the user gave it. A bare number (or array) is taken to be in
        ``unit`` already.
    unit : str
        The unit the numeric code works in, e.g. ``"Mm"`` or ``"G"``.
    name : str
        The parameter's name, for the error message.

    Returns
    -------
    float or `numpy.ndarray`
        The value in ``unit``: a float for a scalar, a float64 array otherwise; None stays
        None.

    Raises
    ------
    ffnn.util.errors.ConfigError
        When ``value`` is a quantity whose unit does not convert to ``unit`` (another
        physical type), in one line naming ``name``.

    Examples
    --------
    >>> import astropy.units as u
    >>> to_value(1e10 * u.cm, "Mm", "height")
    100.0
    >>> to_value(50, "Mm", "height")
    50.0
    """
    if value is None:
        return None
    if hasattr(value, "unit") and hasattr(value, "to_value"):
        import astropy.units as u

        try:
            out = value.to_value(u.Unit(unit))
        except u.UnitConversionError:
            raise ConfigError(f"{name} = {value}: not convertible to {unit} "
                              f"(give a {u.Unit(unit).physical_type}, e.g. 100 * u.{unit})") from None
    else:
        out = value
    out = np.asarray(out, dtype=np.float64)
    return float(out) if out.ndim == 0 else out


def as_quantity(data):
    """A variable of an ffnn product as a `~astropy.units.Quantity`, from its CF ``units``.

    Parameters
    ----------
    data : `xarray.DataArray`
        A data variable or coordinate with a ``units`` attribute in UDUNITS spelling as
        ffnn writes it (``gauss``, ``gauss Mm-1``, ``Mm``, ``erg``, ``Mx``), or any spelling
        astropy parses.

    Returns
    -------
    `~astropy.units.Quantity`
        The values (same shape as ``data``) with their unit, e.g. ``u.G`` for ``Bx``.

    Raises
    ------
    ffnn.util.errors.ConfigError
        When ``data`` has no ``units`` attribute or astropy cannot read it.

    Examples
    --------
    >>> cube = model.cube()                        # doctest: +SKIP
    >>> as_quantity(cube["Bz"]).to("T")            # doctest: +SKIP
    """
    import astropy.units as u

    units = data.attrs.get("units")
    if units is None:
        raise ConfigError(f"{getattr(data, 'name', 'variable')} has no 'units' attribute")
    try:
        unit = u.Unit(_CF_UNITS.get(str(units), str(units)))
    except ValueError:
        raise ConfigError(f"{getattr(data, 'name', 'variable')}: units {units!r} are not readable") from None
    return np.asarray(data.values) * unit
