"""The node's one error type: a single line that says what went wrong and what to do."""


class NodeError(Exception):
    """The node cannot be brought up (or down); str(err) is one line saying what to do."""
