"""Every exception Breadcrumbs raises on purpose, in one place.

Each carries a message written for the user: what went wrong and what to do next.
"""


class BreadcrumbsError(Exception):
    """Base class: the CLI prints these without a traceback and exits non-zero."""

    exit_code = 1


class SourceError(BreadcrumbsError):
    """A source cannot be read at all; the database is left as it was."""

    exit_code = 2


class ProfileError(BreadcrumbsError):
    """profile.toml is missing a value or holds a wrong one."""


class WorkspaceError(BreadcrumbsError):
    """The workspace folder is missing, unwritable or locked by another run."""


class TemplateError(BreadcrumbsError):
    """A template failed to fill for one contact; only that email is skipped."""


class UnsafeHeaderError(BreadcrumbsError):
    """A header value would smuggle a line break or an encoded word into the message."""


class DeliveryUnknown(BreadcrumbsError):
    """The mail may or may not have left: never resend before looking it up."""


class DeliveryFailed(BreadcrumbsError):
    """The mail certainly did not leave, and retrying it as-is will not help."""


class QuotaExhausted(BreadcrumbsError):
    """The provider's daily limit is reached: the rest of the batch waits for the next run."""


class AuthError(BreadcrumbsError):
    """Google credentials are missing, revoked or for the wrong account."""
