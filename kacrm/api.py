"""Project-wide API plumbing: pagination and error shape of SPEC §7."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


MAX_JSON_DEPTH = 20  # a bulk batch is 3 deep; nothing we accept comes near


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, plus: nesting beyond MAX_JSON_DEPTH and NUL characters in any string are a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        pending = [(data, 1)]
        while pending:  # iterative: a deep document must not overflow our own stack either
            value, depth = pending.pop()
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(value, str):
                if "\x00" in value:
                    raise ParseError("JSON parse error - a string contains a NUL character, which no field accepts.")
            elif isinstance(value, dict):
                pending.extend((item, depth + 1) for pair in value.items() for item in pair)
            elif isinstance(value, list):
                pending.extend((item, depth + 1) for item in value)
        return data


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


def exception_handler(exc, context):
    """DRF's handler, plus model-level validation and constraint errors turned into 400s."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    elif isinstance(exc, IntegrityError):
        return Response({"non_field_errors": ["The change conflicts with stored data."]}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
