from django import forms
from django.utils.translation import gettext_lazy as _

from kacrm import dates

from .models import BuyingRole, Competitor, CompetitorPresence, CustomerRole, DecisionMaker, KeyAccount, RelationshipEvent

DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def _text(rows=3):
    return forms.Textarea(attrs={"rows": rows})


class ProfileForm(forms.ModelForm):
    customer_roles = forms.MultipleChoiceField(
        label=_("Customer roles"), choices=CustomerRole.choices, required=False, widget=forms.CheckboxSelectMultiple,
    )
    tier = forms.ChoiceField(
        label=_("Tier"), required=False,
        choices=[("", _("From the store footprint (analytics run)")), *KeyAccount.Tier.choices],
        help_text=_("Choose a tier to override the one the analytics run derives."),
    )

    class Meta:
        model = KeyAccount
        fields = [
            "name", "kind", "tier", "customer_roles", "description", "headquarters", "website", "employees", "founded",
            "history", "organisation_structure", "business_environment",
        ]
        widgets = {
            "description": _text(3), "history": _text(4), "organisation_structure": _text(4),
            "business_environment": _text(4),
            "employees": forms.NumberInput(attrs={"inputmode": "numeric", "min": 0}),
            "founded": forms.NumberInput(attrs={"inputmode": "numeric", "min": 1600}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.instance.tier_override:
            self.initial["tier"] = ""

    def clean(self):
        data = super().clean()
        if data.get("tier") and data.get("kind") != KeyAccount.Kind.CHAIN:
            self.add_error("tier", _("Only chains have a tier."))
        return data


def _choices(people):
    """The choices a ModelChoiceField would list for these decision-makers (validation still uses its queryset)."""
    return [(p.pk, str(p)) for p in people]


class DecisionMakerForm(forms.ModelForm):
    class Meta:
        model = DecisionMaker
        fields = [
            "name", "title", "department", "buying_role", "influence", "attitude", "reports_to", "phone", "email",
            "birthday", "last_contacted", "interests", "notes",
        ]
        widgets = {
            "influence": forms.Select(choices=[(i, f"{i} / 5") for i in range(1, 6)]),
            "birthday": DATE_INPUT, "last_contacted": DATE_INPUT,
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "interests": _text(2), "notes": _text(2),
        }

    def __init__(self, *args, account, people=None, **kwargs):
        """`people`: the account's decision-makers by name, when the page has them already (no query for the choices)."""
        super().__init__(*args, **kwargs)
        self.instance.account = account
        colleagues = DecisionMaker.objects.filter(account=account).order_by("name")
        if self.instance.pk:
            colleagues = colleagues.exclude(pk=self.instance.pk)
        boss = self.fields["reports_to"]
        boss.queryset = colleagues
        boss.empty_label = _("Nobody (top of the chart)")
        if people is not None:
            boss.choices = [("", boss.empty_label), *_choices(p for p in people if p.pk != self.instance.pk)]
        self.fields["buying_role"].choices = [("", _("Choose a buying role")), *BuyingRole.choices]


class EventForm(forms.ModelForm):
    class Meta:
        model = RelationshipEvent
        fields = ["date", "kind", "summary", "decision_makers", "outcome", "reason"]
        widgets = {
            "date": DATE_INPUT, "summary": _text(3), "reason": _text(2),
            "decision_makers": forms.CheckboxSelectMultiple,
            "kind": forms.Select(attrs={"data-event-kind": ""}),
        }

    def __init__(self, *args, account, people=None, **kwargs):
        """`people`: as for DecisionMakerForm."""
        super().__init__(*args, **kwargs)
        self.instance.account = account
        involved = self.fields["decision_makers"]
        involved.queryset = DecisionMaker.objects.filter(account=account).order_by("name")
        if people is not None:
            involved.choices = _choices(people)
        for name in ("outcome", "reason"):
            self.fields[name].widget.attrs["data-tender-only"] = ""


class CompetitorForm(forms.Form):
    """A competing brand in the account; shares are typed as percentages here, stored as fractions."""

    competitor = forms.CharField(
        label=_("Competitor (brand)"), max_length=120,
        widget=forms.TextInput(attrs={"list": "competitor-brands", "autocomplete": "off"}),
    )
    share_pct = forms.DecimalField(
        label=_("Estimated share (%)"), required=False, min_value=0, max_value=100, decimal_places=1,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.1", "min": 0, "max": 100}),
        help_text=_("Of the account's category sales."),
    )
    strengths = forms.CharField(label=_("Strengths"), required=False, widget=_text(2))
    weaknesses = forms.CharField(label=_("Weaknesses"), required=False, widget=_text(2))
    activity = forms.CharField(label=_("Recent activity"), required=False, widget=_text(2))
    updated_on = dates.DateField(label=_("Updated on"), widget=DATE_INPUT)

    @classmethod
    def for_presence(cls, presence: CompetitorPresence, **kwargs):
        share = presence.estimated_share
        return cls(initial={
            "competitor": presence.competitor.name, "strengths": presence.strengths, "weaknesses": presence.weaknesses,
            "activity": presence.activity, "updated_on": presence.updated_on,
            "share_pct": None if share is None else round(100 * share, 1),
        }, **kwargs)

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        share = data.pop("share_pct")
        data["estimated_share"] = None if share is None else float(share) / 100
        return data


def known_brands():
    """Names offered while typing a competitor (a datalist); any new name is accepted too."""
    return Competitor.objects.order_by("name").values_list("name", flat=True)[:300]


class TimelineFilter(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *RelationshipEvent.Kind.choices],
    )
