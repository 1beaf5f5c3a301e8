from django.db import migrations

MOVED = ["user", "region", "team"]


def move_content_types(apps, schema_editor):
    """Point the moved models' content types (and so their permissions and admin log) at org."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    ContentType.objects.using(db).filter(app_label="org", model__in=MOVED).delete()  # none unless created by hand
    ContentType.objects.using(db).filter(app_label="planning", model__in=MOVED).update(app_label="org")


def move_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(app_label="org", model__in=MOVED).update(
        app_label="planning"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("org", "0001_initial"),
    ]

    operations = [migrations.RunPython(move_content_types, move_back)]
