from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kacrm import dates
from stores.forms import StoreChecksForm

from .models import Alert

STATUS_TABS = [
    ("", _("Active")),
    (Alert.Status.OPEN, _("Open")),
    (Alert.Status.ACKNOWLEDGED, _("Acknowledged")),
    (Alert.Status.RESOLVED, _("Resolved")),
    (Alert.Status.RECOVERED, _("Recovered")),
    ("all", _("All")),
]
SORTS = [("fsi", _("Worst FSI first")), ("-fsi", _("Best FSI first")), ("-opened", _("Newest first"))]
ORDERING = {"fsi": ["fsi_latest", "-opened_on", "id"], "-fsi": ["-fsi_latest", "-opened_on", "id"], "-opened": ["-opened_on", "fsi_latest", "id"]}


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_TABS, required=False)
    region = forms.ModelChoiceField(
        label=_("Region"), queryset=None, to_field_name="code", required=False, empty_label=_("All regions"),
    )
    q = forms.CharField(label=_("Store"), required=False, max_length=100)
    sort = forms.ChoiceField(label=_("Sort"), choices=SORTS, required=False)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions

    def filter(self, alerts):
        self.is_valid()  # an invalid filter is shown with its error and left out
        data = self.cleaned_data
        status = data.get("status") or ""
        if status == "":
            alerts = alerts.active()
        elif status != "all":
            alerts = alerts.filter(status=status)
        if data.get("region"):
            alerts = alerts.filter(store__region=data["region"])
        if data.get("q"):
            q = data["q"].strip()
            alerts = alerts.filter(Q(store__code__icontains=q) | Q(store__name__icontains=q))
        return alerts.order_by(*ORDERING[data.get("sort") or "fsi"])

    @property
    def current_status(self) -> str:
        """The status tab shown: '' (active), a status, or 'all'."""
        return (self.cleaned_data.get("status") if hasattr(self, "cleaned_data") else "") or ""


class FollowUpForm(StoreChecksForm):
    """The supervisor's check at the store."""

    date = dates.DateField(label=_("Date of the check"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    actions = forms.CharField(
        label=_("Actions taken"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was done or agreed at the store: shelf moved, promotion set up, staff briefed ..."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    field_order = ["date", *StoreChecksForm.checks, "actions", "notes"]

    def __init__(self, *args, alert, **kwargs):
        today = timezone.localdate()
        kwargs.setdefault("initial", {"date": today})
        super().__init__(*args, **kwargs)
        self.fields["date"].widget.attrs.update({"max": today.isoformat(), "min": alert.opened_on.isoformat()})
