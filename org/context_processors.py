from .access import Action, can


def access(request):
    """`may`: {action value: bool} for the user, so templates ask the access policy (`may.handle_alerts`), not roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may": {}}
    return {"may": {action.value: can(user, action) for action in Action}}
