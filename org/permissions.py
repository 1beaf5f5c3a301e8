from rest_framework.permissions import SAFE_METHODS, BasePermission


class ReadAnyWriteByRole(BasePermission):
    """Any signed-in user reads (their scope); writes need a role in `view.write_roles`.

    Analysts and admins may always write. Object scope is enforced by each view's queryset.
    """

    def has_permission(self, request, view):
        user = request.user
        if not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS or user.sees_everything:
            return True
        return user.role in getattr(view, "write_roles", ())


class IsAnalyst(BasePermission):
    """Analysts and admins."""

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.sees_everything
