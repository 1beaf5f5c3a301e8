"""The one way an API view declares who may call it (SPEC §7), on top of org.access."""
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .access import can


class ActionPermission(BasePermission):
    """Signed-in users only; reads need `view.read_action`, writes `view.write_action` (org.access.Action).

    A view without `read_action` lets every signed-in user read, within the rows its `visible_to()`
    queryset gives them; a view without `write_action` is read-only. Who may not read a view may not
    write to it either (a 403, asked before any lookup). A write to one object is checked after the
    object is looked up in that queryset, so an object outside the caller's scope is a 404 and a
    write the role may not do on an object it sees is a 403 (SPEC §7).
    """

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        if not _allowed(request.user, getattr(view, "read_action", None), default=True):
            return False
        if request.method in SAFE_METHODS:
            return True
        if _is_detail(view):
            return getattr(view, "write_action", None) is not None  # the object decides, below
        return _allowed(request.user, getattr(view, "write_action", None), default=False)

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        return _allowed(request.user, getattr(view, "write_action", None), default=False)


def _allowed(user, action, *, default: bool) -> bool:
    return default if action is None else can(user, action)


def _is_detail(view) -> bool:
    kwarg = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    return kwarg is not None and kwarg in getattr(view, "kwargs", {})
