"""Project-wide API plumbing of SPEC §7: pagination, filters, the error shape, and null for an absent value."""
import io
import re
from collections.abc import Mapping

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from django.core.paginator import Paginator as DjangoPaginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


MAX_JSON_DEPTH = 20  # a bulk batch is 3 deep; nothing we accept comes near


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, plus: nesting beyond MAX_JSON_DEPTH and NUL characters in any string are a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        # In an ASCII body a parsed string holds a NUL only from a \u0000 escape (strict JSON refuses a raw control
        # character): without one the walk checks the depth alone, over containers only. Any other body (UTF-8
        # text, UTF-16) has every string looked at.
        nul = not body.isascii() or b"\x00" in body or b"\\u0000" in body
        pending = [(data, 1)]
        while pending:  # iterative: a deep document must not overflow our own stack either
            value, depth = pending.pop()
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(value, str):
                if "\x00" in value:
                    raise ParseError("JSON parse error - a string contains a NUL character, which no field accepts.")
            elif isinstance(value, dict):
                items = [item for pair in value.items() for item in pair] if nul else value.values()
                pending.extend((item, depth + 1) for item in items if nul or isinstance(item, (dict, list)))
            elif isinstance(value, list):
                pending.extend((item, depth + 1) for item in value if nul or isinstance(item, (dict, list)))
        return data


def _query_count(request, name):
    """The whole number of 1 or more in `?name=`; None when absent or empty; anything else is a 400."""
    value = request.query_params.get(name, "")
    if value == "":
        return None
    digits = value.lstrip("0")
    if not (value.isascii() and value.isdigit()) or not digits:
        raise ValidationError({name: [_("Give a whole number of 1 or more.")]})
    return int(digits) if len(digits) <= 18 else 10**18  # int() of a very long text is refused by Python


class CountedPaginator(DjangoPaginator):
    """Django's paginator, taking the count from `object_list.known_count` when the caller set it.

    For lists whose exact count comes cheaper from elsewhere (the visits: per-store counters kept by
    triggers) than from COUNT(*) over every row; the number is the same.
    """

    @cached_property
    def count(self):
        known = getattr(self.object_list, "known_count", None)
        return DjangoPaginator.count.func(self) if known is None else known


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` are whole numbers of 1 or more (DRF would ignore a bad size, 404 a bad page)."""

    django_paginator_class = CountedPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        size = _query_count(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return _query_count(request, self.page_query_param) or 1  # past the last page: DRF's 404

    def get_schema_operation_parameters(self, view):
        page, size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = size["schema"]["minimum"] = 1
        size["description"] = _("Results per page: %(default)s by default, at most %(max)s (a larger number gives %(max)s).") % {
            "default": self.page_size, "max": self.max_page_size}
        return [page, size]


BOOLEAN_VALUES = {"true", "false", "1", "0"}
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _is_whole_number_field(model, lookup: str) -> bool:
    """Whether the model field a filter's `field_name` names holds whole numbers (an integer, or a key to one)."""
    field = None
    for name in lookup.split("__"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if field.is_relation:
            model = field.related_model
            field = model._meta.pk
    return isinstance(field, (models.IntegerField, models.AutoField))


class FilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, strict where django-filter is lenient, so a filter means what the schema says:

    - an empty parameter (`?status=`) is absent, for every filter;
    - a boolean filter takes true or false (or 1, 0): anything else is a 400, not "no filter";
    - a number filter on a whole-number field (a year, an id) takes a whole number: 0.5 is a 400, not "no match".
    """

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        data = kwargs["data"].copy()
        for key in list(data):
            values = [value for value in data.getlist(key) if value != ""]
            if values:
                data.setlist(key, values)
            else:
                del data[key]
        kwargs["data"] = data
        return kwargs

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        errors = {}
        for name, filter_ in filterset.filters.items():
            values = [value for value in request.query_params.getlist(name) if value != ""]
            if isinstance(filter_, filters.BooleanFilter) and any(v.lower() not in BOOLEAN_VALUES for v in values):
                errors[name] = [_("Give true or false.")]
            elif (type(filter_) is filters.NumberFilter and _is_whole_number_field(queryset.model, filter_.field_name)
                  and not all(WHOLE_NUMBER.fullmatch(v) for v in values)):
                errors[name] = [_("Give a whole number.")]
        if errors:
            raise ValidationError(errors)
        return filterset


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's, except where a view filters on `format` (stores: `?format=hypermarket`): there the parameter is the filter,
    not DRF's choice of renderer, which would answer 404 for a format it has no renderer for."""

    def select_renderer(self, request, renderers, format_suffix=None):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None and self.settings.URL_FORMAT_OVERRIDE in filterset_class.base_filters:
            self.settings = _WithoutFormatOverride()
        return super().select_renderer(request, renderers, format_suffix)


class _WithoutFormatOverride:
    URL_FORMAT_OVERRIDE = None

    def __getattr__(self, name):
        return getattr(api_settings, name)


def _model_fields(model, source):
    """The model fields along a dotted serializer `source`, as far as it goes through model fields."""
    for attr in source.split("."):
        try:
            field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return
        yield field
        if not field.is_relation or not field.concrete or field.many_to_many:
            return
        model = field.related_model


class NullForAbsent:
    # Serializer mixin for SPEC §7: "an absent value is null in every field (never ""), and the schema says which
    # fields may be null" (a comment, not a docstring: the schema would show it on every serializer).
    # - A text that may be blank reads as null, and null is accepted for it (and stored blank).
    # - A field whose model source may be null (an unset foreign key, a date not reached yet) declares `allow_null`.
    # drf-spectacular reads `allow_null`, so the schema marks both kinds nullable.

    def get_fields(self):
        fields = super().get_fields()
        model = getattr(getattr(self, "Meta", None), "model", None)
        for name, field in fields.items():
            path = list(_model_fields(model, field.source or name)) if model is not None else []
            blank_text = bool(path) and isinstance(path[-1], (models.CharField, models.TextField)) and path[-1].blank
            if getattr(field, "allow_blank", False) or (field.read_only and blank_text):
                field.blank_is_null = True
                field.allow_null = True
            elif any(model_field.concrete and model_field.null for model_field in path):
                field.allow_null = True
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            nulls = [name for name, field in self.fields.items()
                     if getattr(field, "blank_is_null", False) and name in data and data[name] is None]
            if nulls:
                data = {**data, **dict.fromkeys(nulls, "")}
        return super().to_internal_value(data)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name, field in self.fields.items():
            if getattr(field, "blank_is_null", False) and data.get(name) == "":
                data[name] = None
        return data


JSON_TYPES = {bool: gettext_lazy("true or false"), int: gettext_lazy("a number"), float: gettext_lazy("a number"),
              str: gettext_lazy("a string"), list: gettext_lazy("a list"), dict: gettext_lazy("an object")}


def _json_types(field) -> tuple:
    """The Python types of the JSON values the schema gives `field`; empty when any goes."""
    if isinstance(field, (serializers.ManyRelatedField, serializers.ListField, serializers.ListSerializer)):
        return (list,)
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return (int,)
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.ChoiceField):
        return tuple({type(choice) for choice in field.choices}) or (str,)
    if isinstance(field, (serializers.IntegerField, serializers.FloatField)):
        return (int, float)
    if isinstance(field, (serializers.CharField, serializers.RelatedField, serializers.DateField,
                          serializers.DateTimeField)):
        return (str,)
    return ()


def _json_type_error(field, value):
    """Why `value` is not what the schema says `field` takes, or None."""
    kinds = _json_types(field)
    if kinds and (bool not in kinds if isinstance(value, bool) else not isinstance(value, kinds)):
        return _("Give %(expected)s, not %(given)s.") % {
            "expected": JSON_TYPES[kinds[0]], "given": JSON_TYPES.get(type(value), type(value).__name__)}
    if value == "" and isinstance(field, (serializers.RelatedField, serializers.ManyRelatedField)):
        return _("This field may not be blank.")
    return None


class StrictJSON:
    # Serializer mixin: a JSON body's values have the types the schema gives them. DRF would read 1 as "1", false as
    # 0.0, "1" as 1 or true, {} as an empty list and "" as no related object. Form data (the browsable API) is all
    # text and keeps DRF's reading. And a PATCH is partial at the top only: a nested object or list item is whole.

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):
            errors = {}
            nested_in_patch = self.parent is not None and getattr(self.root, "partial", False)
            for name, field in self.fields.items():
                if field.read_only:
                    continue
                if name not in data:
                    if nested_in_patch and field.required:
                        errors[name] = [_("This field is required.")]
                elif data[name] is not None and (message := _json_type_error(field, data[name])):
                    errors[name] = [message]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)


# The bases of every serializer of the API (no docstring, as above).
class ModelSerializer(NullForAbsent, StrictJSON, serializers.ModelSerializer):
    pass


class Serializer(NullForAbsent, StrictJSON, serializers.Serializer):
    pass


def exception_handler(exc, context):
    """DRF's handler, plus model-level validation and constraint errors turned into 400s."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    elif isinstance(exc, IntegrityError):
        return Response({"non_field_errors": ["The change conflicts with stored data."]}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
