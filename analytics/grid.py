"""The storage layer of the per-store rules: visits as (stores x days) arrays, and their packing.

`VisitGrid` holds one row per store and one column per day (day numbers count from
1970-01-01, as numpy's datetime64[D]); `PackedVisits` holds the visits as PostgreSQL sends
them (`PACKED_ROW`: one 8-byte integer a visit, several blobs a store at most) and unpacks a
range of stores at a time into a grid. Pure numpy and pandas: no Django, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import frames


def timestamp(d) -> pd.Timestamp:
    """A date, datetime or string as a midnight Timestamp."""
    return pd.Timestamp(d).normalize()


def day_number(day) -> int:
    """Days since 1970-01-01 (a Thursday)."""
    return int(timestamp(day).to_datetime64().astype("datetime64[D]").astype(np.int64))


def day_numbers(dates: pd.Series) -> np.ndarray:
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


@dataclass
class VisitGrid:
    """Visits as (stores x days) arrays: row i is store `store_ids[i]`, column j is day `first + j`.

    A store has at most one visit a day, so every per-store rule becomes a row-wise array
    operation (a strided sum, a cumulative sum, a row sort for a median) instead of a groupby
    or a sort over millions of rows. A range of rows is a grid of those stores: the stores can
    be split across threads or workers without changing a result.
    """

    store_ids: np.ndarray  # (n,) int64
    first: int  # day number of column 0
    visited: np.ndarray  # (n, D) bool
    total: np.ndarray  # (n, D) int32, 0 where not visited
    own: np.ndarray  # (n, D) int32
    confirmed: np.ndarray  # (n, D) bool: a suspect day confirmed by a rep or supervisor

    @classmethod
    def empty(cls, store_ids, first: int, days: int) -> VisitGrid:
        shape = (len(store_ids), max(days, 0))
        return cls(
            np.asarray(store_ids, dtype=np.int64), int(first), np.zeros(shape, dtype=bool),
            np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=bool),
        )

    @classmethod
    def from_frame(cls, visits: pd.DataFrame, store_ids, first: int | None = None, last: int | None = None):
        """The grid of a long visits frame (the contract's columns); other stores' visits are dropped."""
        day = day_numbers(visits["date"])
        first = first if first is not None else (int(day.min()) if len(day) else 0)
        last = last if last is not None else (int(day.max()) if len(day) else first - 1)
        grid = cls.empty(store_ids, first, last - first + 1)
        grid.put(
            pd.Index(grid.store_ids).get_indexer(visits["store_id"].to_numpy()), day - first,
            visits["total_sales"].to_numpy(), visits["own_sales"].to_numpy(),
            frames.column(visits, "confirmed", False).fillna(False).to_numpy(dtype=bool),
        )
        return grid

    def put(self, rows, columns, total, own, confirmed) -> None:
        """Write visits at (rows, columns); rows < 0 (other stores) and columns off the grid are skipped."""
        keep = (rows >= 0) & (columns >= 0) & (columns < self.days)
        if not keep.all():
            rows, columns, total, own, confirmed = (a[keep] for a in (rows, columns, total, own, confirmed))
        cells = rows * self.days + columns  # one flat index serves the four arrays
        for array, values in ((self.visited, True), (self.total, total), (self.own, own), (self.confirmed, confirmed)):
            array.put(cells, values)

    @property
    def days(self) -> int:
        return self.visited.shape[1]

    @property
    def visits(self) -> int:
        return int(np.count_nonzero(self.visited))

    def rows(self, start: int, stop: int) -> VisitGrid:
        """The stores start..stop-1 as a grid (views, no copy)."""
        return VisitGrid(self.store_ids[start:stop], self.first, *(a[start:stop] for a in self._arrays()))

    def until(self, day: int) -> VisitGrid:
        """The days up to `day` (views, no copy)."""
        stop = max(0, min(self.days, day - self.first + 1))
        return VisitGrid(self.store_ids, self.first, *(a[:, :stop] for a in self._arrays()))

    def column(self, day: int) -> int:
        """The column of `day`, clipped to the grid (0 for earlier days)."""
        return int(min(max(day - self.first, 0), self.days))

    def _arrays(self):
        return self.visited, self.total, self.own, self.confirmed


def row_middles(values: np.ndarray, counts: np.ndarray, skip=0) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the two middle values (equal for an odd count) of its `counts` values, as floats.

    The other cells hold a filler: either `skip` of them sort first (zeros, say) or they sort
    last (+inf, or the dtype's maximum).
    """
    ordered = np.sort(values, axis=1)
    if ordered.shape[1] == 0:
        return np.full(len(ordered), np.nan), np.full(len(ordered), np.nan)
    rows, last = np.arange(len(ordered)), ordered.shape[1] - 1
    low = ordered[rows, np.clip(skip + (counts - 1) // 2, 0, last)].astype(float)
    high = ordered[rows, np.clip(skip + counts // 2, 0, last)].astype(float)
    return np.where(counts > 0, low, np.nan), np.where(counts > 0, high, np.nan)


def row_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, the median of its `counts` values (the rest sort last); NaN without values."""
    low, high = row_middles(values, counts)
    return (low + high) / 2


def positions(grid: VisitGrid, visits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of each visit of a frame in the grid built from it."""
    rows = pd.Index(grid.store_ids).get_indexer(visits["store_id"].to_numpy())
    return rows, day_numbers(visits["date"]) - grid.first


# Visits travel from PostgreSQL as one bytea per store and month (`months`): string_agg of
# int8send(packed row). A COPY of one message per row costs ~1 µs a row in psycopg; blobs cost nothing.
# Packed bits: day offset from the blob's first day (14) | confirmed (1) | total_sales (24) | own_sales (24).
PACKED_LIMIT = 1 << 24  # MAX_DAILY_UNITS (10 million) fits; larger figures take the row path
PACKED_ROW = (
    "int8send(((date - %(first)s::date)::int8 << 49) | (CASE WHEN suspect_confirmed THEN 1 ELSE 0 END::int8 << 48)"
    " | (total_sales::int8 << 24) | own_sales::int8)"
)


EPOCH = date(1970, 1, 1).toordinal()  # day numbers count from 1970-01-01, as numpy's datetime64[D]


@dataclass
class PackedVisits:
    """Visits as packed blobs (several per store at most), unpacked into a grid per range of stores.

    Unpacking a range at a time keeps every array a few MB: on a VM, touching fresh memory
    costs more than the arithmetic on it, and small arrays are reused from the heap.
    """

    store_ids: np.ndarray  # the grid rows
    first: int
    days: int
    blobs: list  # packed bytes, ordered by row
    blob_rows: np.ndarray  # the row of each blob
    blob_columns: np.ndarray  # the grid column of each blob's first day (negative before the grid)
    starts: np.ndarray  # (n + 1,) the first blob of each row

    @classmethod
    def from_rows(cls, store_ids, first: int, days: int, rows: list) -> PackedVisits:
        """From (store_id, blob, max total, day number of the blob's first day) rows; other stores' blobs are dropped."""
        store_ids = np.asarray(store_ids, dtype=np.int64)
        blob_rows = pd.Index(store_ids).get_indexer(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        order = np.argsort(blob_rows, kind="stable")
        order = order[blob_rows[order] >= 0]
        blob_rows = blob_rows[order]
        columns = np.fromiter((r[3] for r in rows), np.int64, len(rows))[order] - first
        starts = np.searchsorted(blob_rows, np.arange(len(store_ids) + 1))
        return cls(store_ids, first, days, [rows[i][1] for i in order], blob_rows, columns, starts)

    @property
    def visits(self) -> int:
        """The visits on the grid: a month's days before its first column or after its last do not count."""
        lengths = np.fromiter((len(b) // 8 for b in self.blobs), np.int64, len(self.blobs))
        inside = (self.blob_columns >= 0) & (self.blob_columns + 31 <= self.days)  # the whole month on the grid
        edge = np.flatnonzero(~inside)
        packed = np.frombuffer(b"".join(self.blobs[i] for i in edge), dtype=">i8").astype(np.int64)
        columns = np.repeat(self.blob_columns[edge], lengths[edge]) + (packed >> 49)
        return int(lengths[inside].sum()) + int(np.count_nonzero((columns >= 0) & (columns < self.days)))

    def rows(self, start: int, stop: int) -> VisitGrid:
        """The grid of the stores start..stop-1."""
        grid = VisitGrid.empty(self.store_ids[start:stop], self.first, self.days)
        blobs = slice(self.starts[start], self.starts[stop])
        lengths = np.fromiter((len(b) // 8 for b in self.blobs[blobs]), np.int64, len(self.blobs[blobs]))
        packed = np.frombuffer(b"".join(self.blobs[blobs]), dtype=">i8").astype(np.int64)
        grid.put(  # days off the grid (a month's days before the window's first, or after as_of) are skipped
            np.repeat(self.blob_rows[blobs] - start, lengths), np.repeat(self.blob_columns[blobs], lengths) + (packed >> 49),
            (packed >> 24) & 0xFFFFFF, packed & 0xFFFFFF, ((packed >> 48) & 1).astype(bool),
        )
        return grid
