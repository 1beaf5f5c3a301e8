"""One date range (kacrm.dates) bounds every date a client sends: API fields and filters, pages, commands."""
import importlib

import pytest
from django import forms
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django_filters import filters as filter_types
from django_filters.filterset import BaseFilterSet
from rest_framework import serializers

from accounts.models import DecisionMaker, KeyAccount
from analytics.models import AnalyticsRun
from kacrm import dates
from stores.models import StoreVisit
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
OURS = ["org", "accounts", "stores", "analytics", "alerts", "planning"]
VISIT = {"store": "mine", "date": "2026-11-02", "total_sales": 100, "own_sales": 10}
RANGE_ERROR = "Enter a date between 2000-01-01 and 2099-12-31."


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_a_visit_outside_the_range_is_a_field_error_and_is_not_stored(rep, my_store, day):
    response = client_for(rep).post("/api/v1/visits/", {**VISIT, "date": day}, format="json")

    assert response.status_code == 400
    assert response.json()["date"][0] in {RANGE_ERROR, "The date cannot be in the future."}
    assert not StoreVisit.objects.exists()


def test_the_first_day_of_the_range_is_accepted(rep, my_store):
    response = client_for(rep).post("/api/v1/visits/", {**VISIT, "date": "2000-01-01"}, format="json")

    assert response.status_code == 201, response.json()


def test_a_bulk_item_outside_the_range_names_its_index(rep, my_store):
    batch = [VISIT, {**VISIT, "date": "1999-06-01"}]

    response = client_for(rep).post("/api/v1/visits/bulk/", batch, format="json")

    assert response.status_code == 400
    assert {"index": 1, "errors": {"date": [RANGE_ERROR]}} in response.json()["errors"]
    assert not StoreVisit.objects.exists()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_run_for_an_absurd_day_is_a_400_and_queues_nothing(analyst, day):
    response = client_for(analyst).post("/api/v1/analytics/runs/", {"as_of": day}, format="json")

    assert response.status_code == 400
    assert response.json() == {"as_of": [RANGE_ERROR]}
    assert not AnalyticsRun.objects.exists()


@pytest.mark.parametrize("url", [
    "/api/v1/visits/?date_after=0001-01-01",
    "/api/v1/visits/?date_before=9999-12-31",
    "/api/v1/market-shares/?valid_on=1000-01-01",
    "/api/v1/scores/stores/?as_of=0001-01-01",
    "/api/v1/potential-model/?as_of=0001-01-01",
])
def test_an_absurd_date_filter_is_a_400(analyst, url):
    response = client_for(analyst).get(url)

    assert response.status_code == 400
    assert RANGE_ERROR in str(response.json())


def test_a_visit_typed_on_the_store_page_with_an_absurd_date_is_a_form_error(client, rep, my_store):
    client.force_login(rep)

    response = client.post(f"/stores/{my_store.code}/", {**VISIT, "date": "1900-01-01"})

    assert response.status_code == 200
    assert RANGE_ERROR in response.content.decode()
    assert not StoreVisit.objects.exists()


def test_the_visits_page_shows_an_absurd_filter_date_as_its_error(client, analyst):
    client.force_login(analyst)

    response = client.get("/visits/?date_from=0001-01-01")

    assert response.status_code == 200
    assert RANGE_ERROR in response.content.decode()


def test_recompute_refuses_an_absurd_day(db):
    with pytest.raises(CommandError, match="between 2000-01-01 and 2099-12-31"):
        call_command("recompute", "--as-of", "0001-01-01")
    assert not AnalyticsRun.objects.exists()


def test_regenerate_plans_refuses_an_absurd_month(db):
    with pytest.raises(CommandError, match="between 2000-01-01 and 2099-12-31"):
        call_command("regenerate_plans", "--month", "1999-12")


def test_a_birthday_may_be_last_century_but_not_before_1900(analyst):
    account = KeyAccount.objects.create(code="acme", name="Acme", kind="chain")
    client = client_for(analyst)
    url = f"/api/v1/accounts/{account.code}/decision-makers/"

    refused = client.post(url, {"name": "Old", "title": "Buyer", "buying_role": "purchaser", "birthday": "1899-12-31"}, format="json")
    accepted = client.post(url, {"name": "Ann", "title": "Buyer", "buying_role": "purchaser", "birthday": "1961-04-12"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["birthday"] == ["Enter a date between 1900-01-01 and 2099-12-31."]
    assert accepted.status_code == 201, accepted.json()
    assert DecisionMaker.objects.get().birthday.isoformat() == "1961-04-12"


# The rule is applied everywhere: a date field added without it fails here.

def _has_range(validators) -> bool:
    return any(isinstance(validator, dates.DateRange) for validator in validators)


def test_every_model_date_field_is_bounded():
    unbounded = [
        f"{model.__name__}.{field.name}"
        for app in OURS for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)
        and not _has_range(field.validators)
    ]
    assert unbounded == []


def _module_classes(kind: str, base):
    for app in OURS:
        try:
            module = importlib.import_module(f"{app}.{kind}")
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__:
                yield value


def test_every_writable_serializer_date_field_is_bounded():
    unbounded = [
        f"{serializer.__name__}.{name}"
        for serializer in _module_classes("api", serializers.Serializer)
        for name, field in serializer().fields.items()
        if isinstance(field, serializers.DateField) and not field.read_only and not _has_range(field.validators)
    ]
    assert unbounded == []


def test_every_date_filter_is_bounded():
    unbounded = [
        f"{filterset.__name__}.{name}"
        for kind in ("api", "forms")
        for filterset in _module_classes(kind, BaseFilterSet)
        for name, declared in filterset.base_filters.items()
        if isinstance(declared, (filter_types.DateFilter, filter_types.DateFromToRangeFilter))
        and not isinstance(declared, (dates.DateFilter, dates.DateFromToRangeFilter))
    ]
    assert unbounded == []


def test_every_form_date_field_is_bounded():
    unbounded = [
        f"{form.__name__}.{name}"
        for form in _module_classes("forms", forms.BaseForm)
        for name, field in form.base_fields.items()
        if isinstance(field, forms.DateField) and not _has_range(field.validators)
        and not issubclass(form, forms.BaseModelForm)  # a model form runs the model field's validators
    ]
    assert unbounded == []
