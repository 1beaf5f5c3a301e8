from django import forms
from django.db.models import F
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from kacrm import dates
from accounts.models import KeyAccount
from org.models import Region

from .models import StoreScore, Zone

RUN_CHOICES_SHOWN = 120  # newest runs offered in the picker; an older day still opens by URL

ZONE_CHOICES = [(zone.value, zone.label) for zone in (Zone.ATTACK, Zone.DEFEND, Zone.MAINTENANCE, Zone.UNCLASSIFIED)]
ABC_CHOICES = [("A", "A"), ("B", "B"), ("C", "C")]
XYZ_CHOICES = [("X", "X"), ("Y", "Y"), ("Z", "Z"), ("N", _("N (fewer than 6 months)"))]
CUSTOMER_STATUS_CHOICES = [
    ("active", _("Active")), ("at_risk", _("At risk")), ("lost", _("Lost")), ("never", _("Never bought")),
]
AUDIT_CHOICES = [
    ("missed_attack", _("Missed attack (attack, not traditional KA)")),
    ("false_ka", _("False KA (maintenance, traditional KA)")),
]
SORTS = {
    "-potential": (F("potential").desc(nulls_last=True), "store__code"),
    "potential": (F("potential").asc(nulls_last=True), "store__code"),
    "-own_annual": (F("own_annual").desc(), "store__code"),
    "wallet_share": (F("wallet_share").asc(nulls_last=True), "store__code"),
    "store": ("store__code",),
}
SORT_CHOICES = [
    ("-potential", _("Potential, highest first")),
    ("potential", _("Potential, lowest first")),
    ("-own_annual", _("Own sales, highest first")),
    ("wallet_share", _("Wallet share, lowest first")),
    ("store", _("Store code")),
]
DEFAULT_SORT = "-potential"


class RunDateForm(forms.Form):
    """`?as_of=`: which scored day to show. Invalid input falls back to the latest run, with the error shown."""

    as_of = dates.DateField(
        label=_("Run of"), required=False, widget=forms.Select,
        error_messages={"invalid": _("Enter a valid date (YYYY-MM-DD).")},
    )

    def __init__(self, data, *, dates, **kwargs):
        super().__init__(data, **kwargs)
        self.dates = dates  # every scored day, newest first
        shown = dates[:RUN_CHOICES_SHOWN]
        if self.is_valid() and self.cleaned_data["as_of"] and self.cleaned_data["as_of"] not in shown:
            shown = [*shown, self.cleaned_data["as_of"]]
        self.fields["as_of"].widget.choices = [
            (day.isoformat(), date_format(day, "DATE_FORMAT") + (f" · {_('latest')}" if day == dates[0] else ""))
            for day in shown
        ]

    def clean_as_of(self):
        day = self.cleaned_data["as_of"]
        if day and day not in self.dates:
            raise forms.ValidationError(
                _("No analytics run scored %(day)s."), params={"day": date_format(day, "DATE_FORMAT")}, code="no_run"
            )
        return day

    @property
    def day(self):
        """The day to show: the chosen run when valid, else the latest; None before the first run."""
        if self.is_valid() and self.cleaned_data["as_of"]:
            return self.cleaned_data["as_of"]
        return self.dates[0] if self.dates else None


def regions_in_scope(request):
    return Region.objects.visible_to(request.user) if request else Region.objects.none()


def accounts_in_scope(request):
    return KeyAccount.objects.visible_to(request.user).order_by("name") if request else KeyAccount.objects.none()


class StoreScoreFilter(filters.FilterSet):
    """The filters of the scores page, its CSV export and the matrix; choices limited to the user's scope."""

    zone = filters.ChoiceFilter(label=_("Zone"), choices=ZONE_CHOICES, empty_label=_("All"))
    region = filters.ModelChoiceFilter(
        label=_("Region"), field_name="store__region", to_field_name="code", queryset=regions_in_scope,
        empty_label=_("All"),
    )
    account = filters.ModelChoiceFilter(
        label=_("Account"), field_name="store__account", to_field_name="code", queryset=accounts_in_scope,
        empty_label=_("All"),
    )
    abc = filters.ChoiceFilter(label="ABC", choices=ABC_CHOICES, empty_label=_("All"))
    xyz = filters.ChoiceFilter(label="XYZ", choices=XYZ_CHOICES, empty_label=_("All"))
    customer_status = filters.ChoiceFilter(
        label=_("Customer status"), choices=CUSTOMER_STATUS_CHOICES, empty_label=_("All")
    )
    audit = filters.ChoiceFilter(
        label=_("Traditional split audit"), choices=AUDIT_CHOICES, method="filter_audit", empty_label=_("All")
    )
    sort = filters.ChoiceFilter(label=_("Sort by"), choices=SORT_CHOICES, empty_label=None, method="keep")

    class Meta:
        model = StoreScore
        fields = ["zone", "region", "account", "abc", "xyz", "customer_status", "audit", "sort"]

    def filter_audit(self, queryset, name, value):
        return queryset.filter(**{value: True})

    def keep(self, queryset, name, value):
        return queryset  # the order is applied last, in filter_queryset

    def filter_queryset(self, queryset):
        sort = self.form.cleaned_data.get("sort") or DEFAULT_SORT
        return super().filter_queryset(queryset).order_by(*SORTS[sort])

    @property
    def active(self) -> bool:
        """Whether any filter other than the sort order was given (opens the filter box)."""
        return any(self.data.get(name) for name in self.filters if name != "sort")
