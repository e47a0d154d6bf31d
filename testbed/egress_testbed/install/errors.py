"""The one exception type the installer raises: a one-line message that says what to do."""


class InstallError(Exception):
    """Set-up cannot continue; str(err) is a single line telling the user what to do."""
