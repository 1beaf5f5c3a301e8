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
