from org.access import Action, can

from .models import Notification


def notifications(request):
    """`unread_notifications` for the header: counted only when a page renders it, for those who handle alerts."""
    user = getattr(request, "user", None)

    def unread():
        return Notification.objects.filter(user=user).unread().count()

    if user is None or not can(user, Action.HANDLE_ALERTS):
        return {}
    return {"unread_notifications": unread}
