from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class MonthField(forms.CharField):
    """`YYYY-MM` (or any day of the month, `YYYY-MM-DD`) as the first day of that month."""

    default_error_messages = {"invalid": _("Give a month as YYYY-MM, such as 2026-11.")}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            day = date.fromisoformat(value if len(value) > 7 else f"{value}-01")
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return day.replace(day=1)


class TargetFilterForm(forms.Form):
    GROUPS = [
        ("store", _("Store")), ("rep", _("Sales manager")), ("region", _("Region")), ("account", _("Account")),
    ]
    month = MonthField(label=_("Month"), required=False, widget=forms.TextInput(attrs={"type": "month"}))
    group = forms.ChoiceField(label=_("Group by"), choices=GROUPS, required=False)


class TargetEditForm(forms.Form):
    target = forms.IntegerField(widget=forms.HiddenInput)
    target_own = forms.FloatField(label=_("Target (units)"), min_value=0, max_value=10_000_000_000)


class ReassignForm(forms.Form):
    """The rep to take a store: an active sales manager of the store's region."""

    rep = forms.CharField(max_length=150, label=_("New sales manager"))

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store

    def clean_rep(self):
        from .models import Role, User

        rep = User.objects.filter(
            username=self.cleaned_data["rep"], role=Role.SALES_MANAGER, is_active=True, region=self.store.region_id
        ).first()
        if rep is None:
            raise ValidationError(_("Choose an active sales manager of the store's region."), code="rep")
        return rep
