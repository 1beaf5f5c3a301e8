"""The analytics parameters of SPEC §3-§5 (stored as `AnalyticsSettings`) and the window W.

Pure Python and pandas: no Django, no clock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Params:
    window_days: int = 364
    suspect_min_days: int = 10
    suspect_mad_factor: float = 1.4826
    suspect_threshold: float = 5.0
    observed_min_days: int = 20
    observed_min_per_weekday: int = 2
    model_min_n_base: int = 50
    model_min_n_per_predictor: int = 8
    model_min_press_r2: float = 0.70
    extrapolation_margin: float = 0.10
    abc_a: float = 0.80
    abc_b: float = 0.95
    key_stay: float = 0.85  # hysteresis: attack/defend stays key unless before >= 0.85 T
    key_enter: float = 0.75  # hysteresis: maintenance becomes key only when before < 0.75 T
    attack_to_defend: float = 1.10
    defend_to_attack: float = 0.90
    xyz_min_months: int = 6
    xyz_x: float = 0.10
    xyz_y: float = 0.25
    lost_min_gaps: int = 3
    risk_floor_days: int = 45
    lost_floor_days: int = 90
    lost_cap_days: int = 730
    risk_default_days: int = 45
    lost_default_days: int = 180
    lifeblood_share: float = 0.10
    # alerts (§5)
    alert_window_days: int = 28
    alert_min_days: int = 8
    alert_open_fsi: float = 90.0
    alert_recover_fsi: float = 95.0
    alert_lookback_days: int = 7
    alert_cooldown_days: int = 14

    @classmethod
    def from_dict(cls, d) -> Params:
        """Params from a stored dict; unknown keys are ignored, missing keys take defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


def window_first_day(as_of, params: Params) -> pd.Timestamp:
    """The first day of the window W = [as_of - (window_days - 1), as_of] (SPEC §3.1)."""
    return pd.Timestamp(as_of).normalize() - pd.Timedelta(days=params.window_days - 1)
