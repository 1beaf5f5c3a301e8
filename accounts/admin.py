from django.contrib import admin

from .models import KeyAccount


@admin.register(KeyAccount)
class KeyAccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "tier", "tier_override", "owner"]
    list_filter = ["kind", "tier"]
    list_select_related = ["owner"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["owner"]
