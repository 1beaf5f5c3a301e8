from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Region, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "region", "team", "is_active", "is_staff"]
    list_filter = ["role", "region", "team", "is_active", "is_staff"]
    list_select_related = ["region", "team"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("KA CRM"), {"fields": ["role", "region", "team"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("KA CRM"), {"fields": ["role", "region", "team"]}),)


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
