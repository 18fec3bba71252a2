"""Electronic sales tickets: issue, void, attach member, pay (by checkout), release, expire."""
