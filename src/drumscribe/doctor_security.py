"""The old home of doctor's security checks, kept so that existing imports keep working; they
live in ``drumscribe.doctor.security`` now."""

from drumscribe.doctor.security import *  # noqa: F401,F403
from drumscribe.doctor.security import KEY_MAX_DAYS, access_key_age, alarms, cloudtrail, env_in_git, ip_allowlist, root_mfa, security_checks  # noqa: F401
