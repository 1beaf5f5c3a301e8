"""Small pandas helpers shared by the analytics rules (`store_rules`, `scoring`): no Django."""

from __future__ import annotations

import numpy as np
import pandas as pd


def indexed(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The frame indexed by `key` (accepted as a column or as the index)."""
    if key in frame.columns:
        frame = frame.set_index(key)
    return frame.rename_axis(key)


def column(frame: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    """The column `name`, or `default` on every row when the frame has no such column."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(default, index=frame.index, dtype=object if default is None else None)


def as_float(s: pd.Series) -> pd.Series:
    """Bools / None / numbers as float with NaN for missing (open_24h becomes 0/1)."""
    return pd.Series(
        pd.array(s.tolist(), dtype="Float64").to_numpy(dtype=float, na_value=np.nan), index=s.index
    )


def text(values, index) -> pd.Series:
    """A text column (pandas' `str` dtype, missing text NaN)."""
    return pd.Series(values, index=index, dtype="str")
