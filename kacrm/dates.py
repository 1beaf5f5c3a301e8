"""The one range every date the product accepts falls in.

Every date field and date filter, in the API, the pages and the commands, validates against these
bounds, so a year-1 visit or a run for 9999-12-31 is a 400 with a field error instead of a stored
absurdity or an OverflowError. The business began well after EARLIEST; birthdays start earlier.
"""
import argparse
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from rest_framework import serializers

EARLIEST = date(2000, 1, 1)
EARLIEST_BIRTHDAY = date(1900, 1, 1)
LATEST = date(2099, 12, 31)


@deconstructible
class DateRange:
    """A validator: the date lies in [earliest, latest]."""

    message = _("Enter a date between %(earliest)s and %(latest)s.")

    def __init__(self, earliest: date = EARLIEST, latest: date = LATEST):
        self.earliest, self.latest = earliest, latest

    def __call__(self, value):
        if value is not None and not self.earliest <= value <= self.latest:
            raise ValidationError(
                self.message, code="date_out_of_range",
                params={"earliest": self.earliest.isoformat(), "latest": self.latest.isoformat()},
            )

    def __eq__(self, other):
        return isinstance(other, DateRange) and (self.earliest, self.latest) == (other.earliest, other.latest)


in_range = DateRange()
birthday_range = DateRange(EARLIEST_BIRTHDAY)


def iso_day(text: str) -> date:
    """The argparse `type` of a command's date option (`--as-of 2026-11-30`)."""
    try:
        day = date.fromisoformat(text)
        in_range(day)
    except ValueError:
        raise argparse.ArgumentTypeError("give a date as YYYY-MM-DD") from None
    except ValidationError:
        raise argparse.ArgumentTypeError(f"give a date between {EARLIEST} and {LATEST}") from None
    return day


class DateFilter(filters.DateFilter):
    """django-filter's DateFilter, bounded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validators=[in_range], **kwargs)


class _DateRangeField(filter_fields.DateRangeField):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields:  # each end is checked before the two become a datetime range
            field.validators.append(in_range)


class DateFromToRangeFilter(filters.DateFromToRangeFilter):
    """`?date_after=&date_before=`, both ends bounded."""

    field_class = _DateRangeField


class DateField(forms.DateField):
    """A form date field, bounded (pages and filter forms)."""

    default_validators = [in_range]


class ApiDateField(serializers.DateField):
    """A serializer date field declared by hand, bounded (model fields carry `in_range` themselves)."""

    default_validators = [in_range]
