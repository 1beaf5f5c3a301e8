from org.models import Role

from .models import Notification


def notifications(request):
    """`unread_notifications` for the header: counted only when a page renders it, for supervisors."""
    user = getattr(request, "user", None)

    def unread():
        return Notification.objects.filter(user=user).unread().count()

    if user is None or not user.is_authenticated or user.role != Role.SUPERVISOR:
        return {}
    return {"unread_notifications": unread}
