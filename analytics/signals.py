from django.dispatch import Signal

# Sent by `services.announce(run)` after a run saved its snapshot (the nightly task and `manage.py recompute`),
# with `run`: the AnalyticsRun. The apps above react here (alerts: the nightly part of SPEC §5 on the fresh
# suspects), so analytics imports none of them. A receiver may return a one-line summary for the command.
run_succeeded = Signal()
