from django import template
from django.utils import timezone

from accounts.models import KeyAccount
from planning import services
from planning.models import AccountPlan

register = template.Library()


@register.inclusion_tag("planning/_account_plan.html", takes_context=True)
def account_plan(context, account, year=None, editing=False):
    """The dossier's account-plan section: the year's plan (this year's by default), the rolling three months,
    forecast vs actual."""
    user, today = context["request"].user, timezone.localdate()
    year = year or today.year
    plan = (
        AccountPlan.objects.filter(account=account, year=year)
        .prefetch_related("objectives", "actions__owner", "reviews", "forecast").first()
    )
    return {
        "account": account, "plan": plan, "year": year, "today": today, "editing": editing,
        "rolling": services.rolling_plan(account=account, today=today),
        "forecast": services.forecast_vs_actual(plan) if plan else [],
        "may_edit": KeyAccount.objects.editable_by(user).filter(pk=account.pk).exists(),
    }
