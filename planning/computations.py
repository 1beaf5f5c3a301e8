"""Planning formulas of SPEC §6: plain Python, no ORM, no clock."""
import calendar
from datetime import date, timedelta

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


# Visit plans (SPEC §6). A rep's working week is Monday to Friday; a store's closed weekdays come off it.
WORKING_WEEKDAYS = (0, 1, 2, 3, 4)
DEFEND_PREFERENCE = (0, 2, 4, 1, 3)  # Monday, Wednesday, Friday; Tuesday and Thursday stand in for closed days
DEFEND_VISITS = 3


def default_weekdays(*, zone: str, closed_weekdays, store_id: int) -> list[int]:
    """Attack: every open working day; defend: 3 a week (Mon/Wed/Fri, else Tue/Thu); others: 1 a week.

    The single weekly day of maintenance (and unclassified) stores rotates with the store id, so a rep's
    weekly visits spread over the week instead of piling up on Monday.
    """
    open_days = [d for d in WORKING_WEEKDAYS if d not in set(closed_weekdays or ())]
    if not open_days:
        return []
    if zone == "attack":
        return open_days
    if zone == "defend":
        return sorted([d for d in DEFEND_PREFERENCE if d in open_days][:DEFEND_VISITS])
    return [open_days[store_id % len(open_days)]]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def planned_days(*, weekdays, closed_weekdays, week: date, today: date) -> int:
    """Planned visits of one store in the week starting `week` (a Monday), up to `today`, skipping closed days."""
    closed = set(closed_weekdays or ())
    return sum(1 for d in set(weekdays) if d not in closed and week + timedelta(days=d) <= today)


def weekly_compliance(plans, visits: dict, weeks: list[date], today: date) -> dict:
    """{(rep_id, week): (planned, logged)} for `plans` = [(store_id, rep_id, weekdays, closed_weekdays)].

    `visits` = {(store_id, week): visits logged at the store that week}. Logged counts at most the planned
    number per store and week: a visit on another day than planned still counts, but extra visits to one
    store do not make up for a store left out.
    """
    result, planned_by_pattern = {}, {}  # most stores share a few weekday patterns: each is counted once per week
    for store_id, rep_id, weekdays, closed_weekdays in plans:
        for week in weeks:
            pattern = (tuple(weekdays), tuple(closed_weekdays or ()), week)
            planned = planned_by_pattern.get(pattern)
            if planned is None:
                planned = planned_by_pattern[pattern] = planned_days(
                    weekdays=weekdays, closed_weekdays=closed_weekdays, week=week, today=today)
            logged = min(visits.get((store_id, week), 0), planned)
            total_planned, total_logged = result.get((rep_id, week), (0, 0))
            result[(rep_id, week)] = (total_planned + planned, total_logged + logged)
    return result
