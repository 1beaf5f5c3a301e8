"""Planning formulas of SPEC §6: plain Python, no ORM, no clock."""
import calendar
from datetime import date

ATTACK_LIFT = 0.03  # attack: lift wallet share by 3 points, at most to the market share


def target_own(*, zone: str, potential: float | None, wallet_share: float | None,
               market_share: float | None) -> float | None:
    """Monthly target of own units: attack `P/12 * min(S*, SOW + 0.03)`, defend `P/12 * SOW`, else None."""
    if potential is None or wallet_share is None:
        return None
    if zone == "attack":
        share = wallet_share + ATTACK_LIFT if market_share is None else min(market_share, wallet_share + ATTACK_LIFT)
        return potential / 12 * share
    if zone == "defend":
        return potential / 12 * wallet_share
    return None


def days_in_month(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
