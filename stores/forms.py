from django import forms
from django.db.models import Q
from django.forms.renderers import DjangoTemplates
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.translation import gettext_lazy as _

from kacrm import dates
from org.models import Region, User

from .models import MAX_DAILY_UNITS

def _esc(value) -> str:
    return conditional_escape(str(value))


def _attrs(attrs) -> str:
    return "".join(
        f" {_esc(name)}" if value is True else f' {_esc(name)}="{_esc(value)}"'
        for name, value in attrs.items() if value is not False
    )


def _input(w) -> str:
    value = "" if w["value"] is None else f' value="{_esc(w["value"])}"'
    return f'<input type="{_esc(w["type"])}" name="{_esc(w["name"])}"{value}{_attrs(w["attrs"])}>'


def _input_option(w) -> str:
    if not w.get("wrap_label"):
        return _input(w)
    label_for = f' for="{_esc(w["attrs"]["id"])}"' if w["attrs"].get("id") else ""
    return f"<label{label_for}>{_input(w)}\n {_esc(w['label'])}</label>"


def _option(w) -> str:
    return f'<option value="{_esc(w["value"])}"{_attrs(w["attrs"])}>{_esc(w["label"])}</option>'


def _select(w) -> str | None:
    parts = [f'<select name="{_esc(w["name"])}"{_attrs(w["attrs"])}>']
    for group_name, options, _index in w["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_esc(group_name)}">')
        for option in options:
            if option["template_name"] != "django/forms/widgets/select_option.html":
                return None
            parts.append(f"\n  {_option(option)}\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(w) -> str:
    return f'<textarea name="{_esc(w["name"])}"{_attrs(w["attrs"])}>\n{_esc(w["value"]) if w["value"] else ""}</textarea>'


class WidgetRenderer(DjangoTemplates):
    """Django's form renderer, with the widget templates the store pages repeat per row written in Python.

    The same HTML as the templates (tests/stores/test_scale_queries.py compares them): rendering 30 store
    cards' quick forms (420 widgets) or a select of every rep in scope through templates took 100-200 ms.
    """

    FAST = {
        **dict.fromkeys([f"django/forms/widgets/{kind}.html" for kind in ("input", "text", "number", "date", "hidden")], _input),
        "django/forms/widgets/radio_option.html": _input_option,
        "django/forms/widgets/select.html": _select,
        "django/forms/widgets/textarea.html": _textarea,
    }

    def render(self, template_name, context, request=None):
        fast = self.FAST.get(template_name)
        html = fast(context["widget"]) if fast and set(context) == {"widget"} else None
        return super().render(template_name, context, request) if html is None else html.strip()


WIDGET_RENDERER = WidgetRenderer()

# Values match what NullBooleanField reads back and what RadioSelect renders for True / False / None.
THREE_STATE = [("True", _("Yes")), ("False", _("No")), ("", _("Not checked"))]


def _count_input(label, help_text):
    return forms.IntegerField(
        label=label, help_text=help_text, min_value=0, max_value=MAX_DAILY_UNITS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "step": 1, "autocomplete": "off"}),
    )


def _check_input(label):
    return forms.NullBooleanField(label=label, required=False, widget=forms.RadioSelect(choices=THREE_STATE))


class StoreChecksForm(forms.Form):
    """The three findings at a store (yes / no / not checked), shared by a visit and an alert's follow-up check."""

    default_renderer = WIDGET_RENDERER

    display_ok = _check_input(_("Display"))
    promotion_ok = _check_input(_("Promotion"))
    staff_ok = _check_input(_("Staff"))

    checks = ["display_ok", "promotion_ok", "staff_ok"]

    def check_fields(self):
        return [self[name] for name in self.checks]


class VisitForm(StoreChecksForm):
    """One store visit; `visit` carries the id of the visit being corrected, empty for a new one."""

    visit = forms.IntegerField(required=False, widget=forms.HiddenInput)
    date = dates.DateField(label=_("Date"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    total_sales = _count_input(_("Total category sales"), _("Units sold today, all brands."))
    own_sales = _count_input(_("Our sales"), _("Units of our brand."))
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    field_order = ["visit", "date", "total_sales", "own_sales", *StoreChecksForm.checks, "notes"]

    def __init__(self, *args, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.fields["date"].widget.attrs["max"] = self.today.isoformat()

    @classmethod
    def for_visit(cls, visit, *, day, **kwargs):
        """An unbound form for `day`, prefilled from `visit` when there is one (saving then corrects it)."""
        if visit is None:
            return cls(initial={"date": day}, **kwargs)
        initial = {name: getattr(visit, name) for name in ["date", "total_sales", "own_sales", "notes", *cls.checks]}
        return cls(initial={**initial, "visit": visit.pk}, **kwargs)

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > self.today:
            raise forms.ValidationError(_("The date cannot be in the future."))
        return day

    def clean(self):
        data = super().clean()
        own, total = data.get("own_sales"), data.get("total_sales")
        if own is not None and total is not None and own > total:
            self.add_error(
                "own_sales",
                _("Our sales (%(own)s) cannot exceed the total category sales (%(total)s).") % {"own": own, "total": total},
            )
        return data


REP_CHOICES_LIMIT = 300  # more sales managers in scope than this: their username is typed, not picked


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username

    def set_reps(self, reps) -> None:
        """A list of the sales managers in scope; over REP_CHOICES_LIMIT of them (an analyst's company at
        100,000 stores has thousands: 180 KiB of options) a text box for the username, checked against the same scope."""
        self.queryset = reps
        if reps.count() > REP_CHOICES_LIMIT:
            self.widget = forms.TextInput(attrs={"placeholder": _("username"), "autocomplete": "off"})
            self.help_text = _("The sales manager's username.")
            self.error_messages = {**self.error_messages, "invalid_choice": _("No sales manager with this username.")}


class StoreFilterForm(forms.Form):
    default_renderer = WIDGET_RENDERER
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    region = forms.ModelChoiceField(
        label=_("Region"), queryset=Region.objects.none(), to_field_name="code", required=False,
        empty_label=_("All regions"),
    )
    rep = RepChoiceField(
        label=_("Sales manager"), queryset=User.objects.none(), to_field_name="username", required=False,
        empty_label=_("All sales managers"),
    )

    def __init__(self, *args, regions, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["rep"].set_reps(reps)

    def filter(self, stores):
        self.is_valid()  # an invalid filter is shown with its error and left out
        data = self.cleaned_data
        if data.get("q"):
            stores = stores.filter(Q(code__icontains=data["q"]) | Q(name__icontains=data["q"]))
        if data.get("region"):
            stores = stores.filter(region=data["region"])
        if data.get("rep"):
            stores = stores.filter(rep=data["rep"])
        return stores


class VisitFilterForm(forms.Form):
    default_renderer = WIDGET_RENDERER
    rep = RepChoiceField(
        label=_("Sales manager"), queryset=User.objects.none(), to_field_name="username", required=False,
        empty_label=_("All sales managers"),
    )
    store = forms.CharField(label=_("Store code"), required=False, max_length=32)
    date_from = dates.DateField(
        label=_("From"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    date_to = dates.DateField(
        label=_("To"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].set_reps(reps)

    def filter(self, visits):
        self.is_valid()  # an invalid filter is shown with its error and left out
        data = self.cleaned_data
        if data.get("rep"):
            visits = visits.filter(rep=data["rep"])
        if data.get("store"):
            visits = visits.filter(store__code=data["store"].strip())
        if data.get("date_from"):
            visits = visits.filter(date__gte=data["date_from"])
        if data.get("date_to"):
            visits = visits.filter(date__lte=data["date_to"])
        return visits

    def counted_stores(self, stores):
        """The stores whose every visit `filter` keeps (their counters give the list's count), or None when it
        filters visits themselves (by rep or date). Call after `filter`."""
        data = self.cleaned_data
        if data.get("rep") or data.get("date_from") or data.get("date_to"):
            return None
        return stores.filter(code=data["store"].strip()) if data.get("store") else stores
