from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import users
from .forms import ThrottledAdminAuthenticationForm
from .models import LoginFailure, Region, Team, User

admin.site.login_form = ThrottledAdminAuthenticationForm  # /admin/login/ counts and locks like /login/


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's, plus org.users' rules: never yourself or the last admin; people with history are deactivated."""

    list_display = ["username", "email", "role", "region", "team", "is_active", "is_staff"]
    list_filter = ["role", "region", "team", "is_active", "is_staff"]
    list_select_related = ["region", "team"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("KA CRM"), {"fields": ["role", "region", "team"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("KA CRM"), {"fields": ["role", "region", "team"]}),)
    actions = ["deactivate"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete history and admins alike; deactivate instead
        return actions

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form

        class KeepingAdmins(form):
            def clean(self):
                cleaned = super().clean()
                flags = {name: cleaned.get(name, getattr(obj, name)) for name in ("is_active", "is_staff", "is_superuser")}
                users.check_admin_kept(user=obj, by=request.user, **flags)
                return cleaned

        return KeepingAdmins

    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, unquote(object_id))
        if user is not None:
            try:
                users.check_removable(user=user, by=request.user)
                if kinds := users.history_of(user):
                    raise ValidationError(gettext(
                        "%(username)s cannot be deleted: %(kinds)s refer to them. Untick Active to deactivate them instead."
                    ) % {"username": user.username, "kinds": ", ".join(kinds)})
            except ValidationError as refused:
                for message in refused.messages:
                    self.message_user(request, message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:org_user_change", args=[user.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.action(description=_("Deactivate selected users"), permissions=["change"])
    def deactivate(self, request, queryset):
        done = 0
        for user in queryset.filter(is_active=True):
            try:
                with transaction.atomic():
                    users.check_removable(user=user, by=request.user)
                    user.is_active = False
                    user.save(update_fields=["is_active"])
                done += 1
            except ValidationError as refused:
                self.message_user(request, f"{user.username}: {' '.join(refused.messages)}", messages.ERROR)
        if done:
            self.message_user(request, ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", done)
                              % {"count": done}, messages.SUCCESS)


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Recent failed sign-ins; deleting a username's or address's rows lifts its lockout."""

    list_display = ["at", "username", "address"]
    search_fields = ["username", "address"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country"]
    list_filter = ["country"]
    search_fields = ["code", "name"]
    filter_horizontal = ["supervisors"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "region"]
    list_filter = ["kind", "region"]
