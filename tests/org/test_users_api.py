"""Removing and demoting people, through the users API and the Django admin: never yourself or the last admin,
and a user with history is deactivated rather than deleted."""
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token

from analytics.models import AnalyticsRun
from org import users
from org.models import User
from tests.conftest import client_for
from tests.factories import KeyAccountFactory, RepFactory, StoreFactory, StoreVisitFactory, UserFactory

pytestmark = pytest.mark.django_db

YOURSELF = "You cannot delete or deactivate yourself; ask another admin."


@pytest.fixture
def admin():
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def other_admin():
    return UserFactory(username="admin2", is_staff=True)


# The API


def test_an_admin_cannot_delete_themselves(admin):
    response = client_for(admin).delete("/api/v1/users/admin/")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [YOURSELF]}
    assert User.objects.filter(username="admin", is_active=True).exists()


def test_an_admin_cannot_deactivate_themselves_but_may_edit_the_rest(admin):
    client = client_for(admin)

    refused = client.patch("/api/v1/users/admin/", {"is_active": False}, format="json")
    edited = client.patch("/api/v1/users/admin/", {"email": "boss@example.com", "is_active": True}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"is_active": ["You cannot deactivate yourself; ask another admin."]}
    assert edited.status_code == 200
    admin.refresh_from_db()
    assert (admin.is_active, admin.email) == (True, "boss@example.com")


def test_an_admin_may_deactivate_and_delete_another_admin(admin, other_admin):
    client = client_for(admin)

    assert client.patch("/api/v1/users/admin2/", {"is_active": False}, format="json").status_code == 200
    assert client.delete("/api/v1/users/admin2/").status_code == 204
    assert list(User.objects.values_list("username", flat=True)) == ["admin"]


def test_a_user_nothing_refers_to_is_deleted_with_their_token(admin):
    RepFactory(username="newbie")
    Token.objects.create(user=User.objects.get(username="newbie"))

    response = client_for(admin).delete("/api/v1/users/newbie/")

    assert response.status_code == 204
    assert not User.objects.filter(username="newbie").exists()
    assert Token.objects.count() == 0


def test_a_rep_with_visits_is_deactivated_not_deleted_and_can_no_longer_sign_in(admin, api):
    rep = RepFactory(username="rep1")
    visit = StoreVisitFactory(store=StoreFactory(rep=rep))

    response = client_for(admin).delete("/api/v1/users/rep1/")
    again = client_for(admin).delete("/api/v1/users/rep1/")

    assert response.status_code == 200
    assert response.json()["username"] == "rep1" and response.json()["is_active"] is False
    assert again.status_code == 200 and again.json()["is_active"] is False
    visit.refresh_from_db()
    assert visit.rep == User.objects.get(username="rep1")
    assert api.post("/api/v1/auth/token/", {"username": "rep1", "password": "pw"}, format="json").status_code == 400


def as_supervisor(user):
    StoreFactory().region.supervisors.add(user)


def as_account_editor(user):  # an audit row only: the account's history names them
    account = KeyAccountFactory()
    account._history_user = user
    account.name = "Renamed"
    account.save()


def as_run_requester(user):
    AnalyticsRun.objects.create(as_of="2026-01-01", requested_by=user)


@pytest.mark.parametrize("history", [as_supervisor, as_account_editor, as_run_requester])
def test_any_row_that_refers_to_a_user_keeps_them(admin, history):
    person = RepFactory(username="someone")
    history(person)

    response = client_for(admin).delete("/api/v1/users/someone/")

    assert response.status_code == 200
    assert User.objects.get(username="someone").is_active is False


def test_the_last_admin_is_kept_whoever_asks(admin):
    rep = RepFactory(username="rep1")

    with pytest.raises(ValidationError) as refused:
        users.remove_user(user=admin, by=rep)

    assert refused.value.messages == ["admin is the last admin; make someone else an admin first."]
    assert User.objects.get(username="admin").is_active is True


def test_the_schema_says_what_delete_answers(admin):
    schema = client_for(admin).get("/api/schema/?format=json").json()

    responses = schema["paths"]["/api/v1/users/{username}/"]["delete"]["responses"]

    assert {"200", "204", "400"} <= set(responses)  # besides the 401, 403 and 404 every operation may answer
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/User"}


# The Django admin


def admin_client(client, user):
    client.force_login(user)
    return client


def test_the_django_admin_refuses_to_delete_yourself(client, admin):
    page = admin_client(client, admin)

    response = page.post(reverse("admin:org_user_delete", args=[admin.pk]), {"post": "yes"})

    assert response.status_code == 302 and response.url == reverse("admin:org_user_change", args=[admin.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [YOURSELF]
    assert User.objects.filter(pk=admin.pk).exists()


def test_the_django_admin_refuses_to_delete_a_user_with_history_and_says_to_deactivate(client, admin):
    rep = RepFactory(username="rep1")
    StoreVisitFactory(store=StoreFactory(rep=rep))

    response = admin_client(client, admin).get(reverse("admin:org_user_delete", args=[rep.pk]))

    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("rep1 cannot be deleted: ") and message.endswith("Untick Active to deactivate them instead.")
    assert "store visits" in message
    assert User.objects.filter(pk=rep.pk).exists()


def test_the_django_admin_deletes_a_user_without_history(client, admin):
    newbie = RepFactory(username="newbie")

    response = admin_client(client, admin).post(reverse("admin:org_user_delete", args=[newbie.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=newbie.pk).exists()


def change_form_data(client, user):
    """The admin change form of `user` as the page shows it, ready to post back."""
    form = client.get(reverse("admin:org_user_change", args=[user.pk])).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled:
            continue
        if hasattr(field.widget, "widgets"):  # split date and time
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else str(value)
    return data


@pytest.mark.parametrize(("untick", "error"), [
    ("is_active", "You cannot deactivate yourself; ask another admin."),
    ("is_staff", None),  # still a superuser: still an admin
])
def test_the_django_admin_form_keeps_your_own_admin_rights(client, admin, untick, error):
    page = admin_client(client, admin)
    data = change_form_data(page, admin)
    data.pop(untick)

    response = page.post(reverse("admin:org_user_change", args=[admin.pk]), data)

    admin.refresh_from_db()
    if error:
        assert response.status_code == 200
        assert response.context["adminform"].form.errors[untick] == [error]
        assert getattr(admin, untick) is True
    else:
        assert response.status_code == 302
        assert getattr(admin, untick) is False


def test_the_django_admin_form_refuses_to_untick_both_your_staff_and_superuser(client, admin):
    page = admin_client(client, admin)
    data = change_form_data(page, admin)
    data.pop("is_staff"), data.pop("is_superuser")

    response = page.post(reverse("admin:org_user_change", args=[admin.pk]), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["is_staff"] == ["You cannot remove your own admin rights; ask another admin."]
    admin.refresh_from_db()
    assert (admin.is_staff, admin.is_superuser) == (True, True)


def test_the_django_admin_offers_deactivation_instead_of_bulk_delete(client, admin):
    rep = RepFactory(username="rep1")
    page = admin_client(client, admin)

    actions = [value for value, _ in page.get(reverse("admin:org_user_changelist")).context["action_form"].fields["action"].choices]
    response = page.post(reverse("admin:org_user_changelist"),
                         {"action": "deactivate", "_selected_action": [admin.pk, rep.pk]})

    assert "delete_selected" not in actions and "deactivate" in actions
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"admin: {YOURSELF}", "1 user deactivated."]
    assert list(User.objects.filter(is_active=True).values_list("username", flat=True)) == ["admin"]
