"""Project-wide API plumbing: pagination and error shape of SPEC §7."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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
