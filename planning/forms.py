from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from kacrm import dates
from org.models import Role, User

from .models import BusinessReview, PlanAction, PlanObjective


class MonthField(forms.CharField):
    """`YYYY-MM` (or any day of the month, `YYYY-MM-DD`) as the first day of that month."""

    default_error_messages = {"invalid": _("Give a month as YYYY-MM, such as 2026-11.")}
    default_validators = [dates.in_range]

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
        rep = User.objects.filter(
            username=self.cleaned_data["rep"], role=Role.SALES_MANAGER, is_active=True, region=self.store.region_id
        ).first()
        if rep is None:
            raise ValidationError(_("Choose an active sales manager of the store's region."), code="rep")
        return rep


class AccountPlanSummaryForm(forms.Form):
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
                              required=False)


class ObjectiveForm(forms.ModelForm):
    class Meta:
        model = PlanObjective
        fields = ["title", "metric", "target", "due", "achieved"]
        widgets = {"due": forms.DateInput(attrs={"type": "date"})}


class QuickSelect(forms.Select):
    """A <select> whose options are joined in Python, as Django's templates would write them: the owners of a large
    account are 1,100 people at 100,000 stores, which a template per option took 40-80 ms to render."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        options = format_html_join("", "<option value=\"{}\"{}>{}</option>", (
            (key, " selected" if key in selected else "", label)
            for key, label in ((str(choice), label) for choice, label in self.choices)
        ))
        return format_html("<select name=\"{}\"{}>{}</select>", name, flatatt(self.build_attrs(self.attrs, attrs)), options)


class UsernameChoices(forms.models.ModelChoiceIterator):
    """A user field's choices as (pk, username) rows, the label a user shows, without building each user."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list("pk", "username")


class UserChoiceField(forms.ModelChoiceField):
    iterator = UsernameChoices
    widget = QuickSelect


class ActionForm(forms.ModelForm):
    class Meta:
        model = PlanAction
        fields = ["title", "owner", "due", "status"]
        widgets = {"due": forms.DateInput(attrs={"type": "date"})}
        field_classes = {"owner": UserChoiceField}

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners


class ActionStatusForm(forms.Form):
    action = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("Status"), choices=PlanAction.Status.choices)


class ReviewForm(forms.ModelForm):
    class Meta:
        model = BusinessReview
        fields = ["quarter", "date", "held", "summary"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"}), "summary": forms.Textarea(attrs={"rows": 2})}


class ForecastForm(forms.Form):
    def __init__(self, *args, year, **kwargs):
        super().__init__(*args, **kwargs)
        for month in range(1, 13):
            self.fields[f"m{month}"] = forms.FloatField(
                label=date_format(date(year, month, 1), "YEAR_MONTH_FORMAT"), min_value=0, max_value=10_000_000_000,
                required=False,
            )

    def values(self) -> dict:
        return {month: self.cleaned_data.get(f"m{month}") for month in range(1, 13)}


class VisitPlanForm(forms.Form):
    """A plan's weekdays; the store's closed weekdays are refused."""

    plan = forms.IntegerField(widget=forms.HiddenInput)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(d, WEEKDAYS_ABBR[d]) for d in range(7)],
    )

    def clean_weekdays_for(self, store):
        closed = set(store.closed_weekdays or ()) & set(self.cleaned_data["weekdays"])
        if closed:
            raise ValidationError(_("The store is closed on %(days)s.") % {
                "days": ", ".join(str(WEEKDAYS[d]) for d in sorted(closed))})
        return sorted(self.cleaned_data["weekdays"])
