"""Data shipped with ffnn (package data; provenance in ``flares/README.md``).

* :data:`SHARP_KEYWORDS_2010_2014`: 5,690 SHARP keyword records of 500+ active regions,
  2010-05 to 2014-12, one row per record, in the shape ``ffnn sharp-keywords`` writes;
* :data:`GOES_FLARES_1996_2022`: the NOAA/NCEI GOES X-ray flare list, 1996-07 to 2022-10,
  in the format ``ffnn flare-events`` writes.

Together they are the embedded default of the flare forecast (``ffnn classify``).
"""

from pathlib import Path

FLARES = Path(__file__).parent / "flares"
SHARP_KEYWORDS_2010_2014 = FLARES / "sharp_keywords_2010_2014.csv.gz"
GOES_FLARES_1996_2022 = FLARES / "goes_flares_1996_2022.csv.gz"
