"""Scores and targets for planning tests, written directly (the analytics run is tested elsewhere)."""
import datetime as dt

from analytics.models import StoreScore

AS_OF = dt.date(2026, 10, 31)


def score(store, *, zone, potential=12000.0, own_annual=None, wallet_share=None, market_share=0.25, as_of=AS_OF):
    if wallet_share is None and potential:
        wallet_share = (own_annual or 0) / potential
    return StoreScore.objects.create(
        store=store, as_of=as_of, obs_days=30, observed=True, p_obs=potential, potential=potential,
        potential_source="observed" if potential else "unknown", own_annual=own_annual or 0.0,
        wallet_share=wallet_share, market_share=market_share, market_share_source="region",
        key_potential=zone in ("attack", "defend"), zone=zone, abc="A", xyz="X", trad_ka=False,
        missed_attack=False, false_ka=False, customer_status="active",
    )
