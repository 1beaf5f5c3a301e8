"""The project's drf-spectacular AutoSchema: the OpenAPI schema says what the API does (SPEC §7).

`.ci/schemathesis` holds the schema to it against a live server; tests/test_schema.py checks these rules.
"""
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.serializers import PolymorphicProxySerializerExtension
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework.permissions import SAFE_METHODS

from .dates import DateRange, in_range

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": (
        'Field errors, `{"field": ["message", ...]}`. Errors of the input as a whole are under `non_field_errors`; '
        "a nested object's or list's errors are nested the same way; a request that cannot be read at all (bad JSON, "
        "a NUL character) gets `{\"detail\": \"message\"}`."
    ),
    "additionalProperties": {"anyOf": [
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        {"type": "object"},
        {"type": "string"},
    ]},
}
ERRORS = {
    "400": ("FieldErrors", FIELD_ERRORS, "Invalid input (field errors)"),
    "401": ("Error", ERROR, "Not signed in, or the token is unknown"),
    "403": ("Error", ERROR, "The caller's role may not do this"),
    "404": ("Error", ERROR, "Not found, or not in the caller's scope; for a list, no such page"),
    "429": ("Error", ERROR, "Too many requests: retry after the seconds of the Retry-After header"),
}


def date_schema(bounds: DateRange) -> dict:
    """What a bounded date field or parameter accepts, in JSON Schema terms (kacrm.dates)."""
    first, last = bounds.earliest.year // 100, bounds.latest.year // 100
    assert bounds.earliest.timetuple()[:3] == (first * 100, 1, 1) and bounds.latest.timetuple()[:3] == (last * 100 + 99, 12, 31)
    centuries = "|".join(str(century) for century in range(first, last + 1))
    return {
        "pattern": rf"^(?:{centuries})\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$",
        "description": f"A date between {bounds.earliest} and {bounds.latest}.",
    }


def _bounded_dates(schema: dict) -> dict:
    """A parameter's schema with each date in it (itself, or a branch of anyOf) given in_range's pattern."""
    if schema.get("format") == "date":
        return {**schema, "pattern": date_schema(in_range)["pattern"]}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_bounded_dates(branch) for branch in schema["anyOf"]]}
    return schema


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus:

    - every operation documents the error responses it can give, with the error shape of kacrm.api;
    - only `list` is paginated and filtered: an @action that answers a list (targets/summary,
      forecast-vs-actual) answers it bare, as DRF does;
    - an optional query parameter may be sent empty, which means absent (django-filter, `?as_of=`, pagination);
    - a date, in a body or a query, states the range of kacrm.dates it must lie in.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        bounds = next((validator for validator in field.validators if isinstance(validator, DateRange)), None)
        if bounds is not None and schema.get("format") == "date":
            schema = {**date_schema(bounds), **schema}
        return schema

    def _is_paginated_action(self):
        action = getattr(self.view, "action", None)
        return action is None or action == "list"

    def _get_paginator(self):
        return super()._get_paginator() if self._is_paginated_action() else None

    def get_filter_backends(self):
        return super().get_filter_backends() if self._is_paginated_action() else []

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            if "schema" in parameter:  # every date filter is bounded by kacrm.dates.in_range
                parameter["schema"] = _bounded_dates(parameter["schema"])
        return parameters

    def error_codes(self) -> list[str]:
        """The error statuses this operation can answer (tests/test_schema.py states each rule)."""
        codes = ["400"]  # input: fields, filters, pages, and the request-level guards of kacrm.middleware
        if self.view.get_authenticators():
            codes.append("401")
        if self.view.get_permissions() and (
            self.method not in SAFE_METHODS or getattr(self.view, "read_action", None) is not None
        ):
            codes.append("403")
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            codes.append("404")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = self.error_codes()
        for code, (name, schema, description) in ERRORS.items():
            declared = responses.get(code)
            # A view may declare an error itself (@extend_schema): with a body, as it is; with a description only
            # (`OpenApiResponse(description=...)`), the project's error shape under that description.
            if declared is None and code not in codes or declared is not None and "content" in declared:
                continue
            component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
            self.registry.register_on_missing(component)
            responses[code] = {**self._get_response_for_code(component.ref, code, direction=direction),
                               "description": declared["description"] if declared else description}
        return dict(sorted(responses.items()))


class AnyOfProxySerializer(PolymorphicProxySerializer):
    """Documents a body as any of `serializers` (anyOf): for a body that may match several of them, where oneOf lies."""


class AnyOfProxySerializerExtension(PolymorphicProxySerializerExtension):
    target_class = AnyOfProxySerializer

    def map_serializer(self, auto_schema, direction):
        return {"anyOf": super().map_serializer(auto_schema, direction)["oneOf"]}
