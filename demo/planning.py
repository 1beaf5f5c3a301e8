"""The planning part of the demo world (called by demo.world.seed_demo_world)."""
import datetime as dt

from planning import computations, services
from planning.models import AccountPlan, BusinessReview, PlanAction, PlanObjective

DEMO_ACCOUNT = "valmore"  # ka1's largest chain gets a worked-out account plan


def save_planning(*, accounts: dict, users: dict, today: dt.date) -> dict:
    """Visit plans and targets from the scores known so far (defaults until a recompute has scored the stores;
    `manage.py regenerate_plans` or the nightly job refreshes them), and one account plan for this year."""
    plans = services.generate_visit_plans()
    for month in (today, computations.next_month(today)):
        services.generate_targets(month=month)
    account = accounts.get(DEMO_ACCOUNT)
    if account is None:
        return {"visit_plans": plans["created"]}
    ka1, sup1 = users.get("ka1"), users.get("sup1")
    plan = AccountPlan.objects.create(
        account=account, year=today.year, updated_by=ka1,
        summary="Win the hypermarket shelf: wallet share to the market share in the attack stores, hold it elsewhere.",
    )
    year_end = dt.date(today.year, 12, 31)
    soon = today + dt.timedelta(days=20)
    PlanObjective.objects.bulk_create([
        PlanObjective(plan=plan, title="Wallet share in attack stores", metric="wallet_share", target=22, due=year_end),
        PlanObjective(plan=plan, title="Stores listing the new range", metric="stores_listed", target=40,
                      due=min(year_end, today + dt.timedelta(days=45))),
        PlanObjective(plan=plan, title="Joint promotions", metric="promotions", target=6, due=year_end),
    ])
    PlanAction.objects.bulk_create([
        PlanAction(plan=plan, title="Agree end caps for the top 20 stores", owner=ka1, due=soon, status="in_progress"),
        PlanAction(plan=plan, title="Brief the East hunters on the attack stores", owner=sup1, due=soon, status="open"),
        PlanAction(plan=plan, title="Send the category review to the buyer", owner=ka1,
                   due=today - dt.timedelta(days=10), status="done"),
    ])
    BusinessReview.objects.bulk_create([
        BusinessReview(plan=plan, quarter=q, date=dt.date(today.year, 3 * q - 1, 15),
                       held=dt.date(today.year, 3 * q - 1, 15) < today,
                       summary="Reviewed share, promotions and listings." if dt.date(today.year, 3 * q - 1, 15) < today else "")
        for q in range(1, 5)
    ])
    actuals = services.account_actuals(account=account, year=today.year)
    base = sum(actuals.values()) / len(actuals) if actuals else 10_000.0
    services.set_forecast(plan=plan, values={m: round(actuals.get(m, base) * 1.05) for m in range(1, 13)}, user=ka1)
    return {"visit_plans": plans["created"], "account_plans": 1}
